// The image's example worker (/usr/local/lib/clawinit/worker.mjs): what a real worker
// does first, and nothing more. clawinit starts it only once the gateway is ready; it
// confirms that on the gateway's own /readyz, says so in one line, then waits for work
// (none here) until clawinit stops it with SIGTERM (or SIGINT), and exits 0.
// It never prints a secret: only whether the gateway token reached it.
import http from "node:http";

const port = process.env.OPENCLAW_GATEWAY_PORT || "18789";
const log = (line) => process.stdout.write(`worker: ${line}\n`);

function readyz() {
    return new Promise((resolve) => {
        const req = http.get({ host: "127.0.0.1", port, path: "/readyz", timeout: 5000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (body += chunk));
            res.on("end", () => {
                try {
                    resolve(res.statusCode === 200 && JSON.parse(body).ready === true);
                } catch {
                    resolve(false);
                }
            });
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(false));
    });
}

const ready = await readyz();
log(`gateway on port ${port} ready=${ready}; token ${process.env.OPENCLAW_GATEWAY_TOKEN ? "set" : "missing"}`);
// Keep the event loop alive until a stop signal.
const idle = setInterval(() => {}, 1 << 30);
for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => {
        clearInterval(idle);
        log(`${signal}: stopping`);
        process.exit(0);
    });
}
