// The image's example worker (/usr/local/lib/clawinit/worker.mjs): what a real worker does.
// clawinit starts it only once the gateway is ready. It opens ONE WebSocket to the gateway
// (the protocol of OpenClaw's own client, packages/gateway-client: wait for
// `connect.challenge`, answer `connect` with the gateway token and an Ed25519 device proof
// over the challenge nonce, then `agent` requests whose final `res` carries the reply) and
// sends every message over that one connection. If the gateway goes away (a reload, a crash
// restart) it reconnects with backoff by itself; SIGTERM/SIGINT: exit 0.
//
// Interface: one message per stdin line (plain text, or a JSON object
// {"message": "...", "model"?: "provider/id", "session"?: "key"}); one stdout line per
// message, `reply {"n":N,"ok":true,"text":"...","ms":M}` or `reply {"n":N,"ok":false,"error":"..."}`,
// in order. Log lines start with `worker: `. It never prints a secret (only whether the token
// reached it). Node's own WebSocket and crypto; no dependency.
import crypto from "node:crypto";
import readline from "node:readline";

const port = process.env.OPENCLAW_GATEWAY_PORT || "18789";
const url = process.env.WORKER_GATEWAY_URL || `ws://127.0.0.1:${port}`;
const token = process.env.OPENCLAW_GATEWAY_TOKEN || "";
const timeoutMs = Number(process.env.WORKER_TIMEOUT_MS || 300000);
const log = (line) => process.stdout.write(`worker: ${line}\n`);
const say = (reply) => process.stdout.write(`reply ${JSON.stringify(reply)}\n`);

// The device identity the gateway pairs (auto-approved for a direct loopback connect): one per
// process, so every reconnect is the same device.
const keys = crypto.generateKeyPairSync("ed25519");
const publicRaw = keys.publicKey.export({ type: "spki", format: "der" }).subarray(-32);
const deviceId = crypto.createHash("sha256").update(publicRaw).digest("hex");
const client = { id: "cli", mode: "cli", version: "clawinit-worker", platform: process.platform };
const role = "operator";
const scopes = ["operator.admin"];

let socket = null; // the one WebSocket, once `hello-ok` came back
let connecting = null;
let stopping = false;
let connections = 0;
const pending = new Map(); // request id -> { resolve, reject }

function connectOnce() {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        let settled = false;
        const fail = (error) => {
            if (!settled) {
                settled = true;
                reject(error);
            }
        };
        ws.addEventListener("error", () => fail(new Error(`cannot reach ${url}`)));
        ws.addEventListener("close", (event) => {
            fail(new Error(`closed during the handshake (${event.code} ${event.reason})`));
            if (socket === ws) {
                socket = null;
                for (const { reject: rejectRequest } of pending.values()) rejectRequest(new Error("connection lost"));
                pending.clear();
                if (!stopping) {
                    log(`connection closed (${event.code}); reconnecting`);
                    // At once, not at the next message: the next turn finds the connection up.
                    connection().catch(() => {});
                }
            }
        });
        ws.addEventListener("message", (event) => {
            let frame;
            try {
                frame = JSON.parse(event.data);
            } catch {
                return;
            }
            if (frame.type === "event" && frame.event === "connect.challenge") {
                const { nonce, ts } = frame.payload || {};
                const proof = ["v3", deviceId, client.id, client.mode, role, scopes.join(","), String(ts), token, nonce, client.platform, ""].join("|");
                ws.send(JSON.stringify({
                    type: "req",
                    id: "connect",
                    method: "connect",
                    params: {
                        minProtocol: 4,
                        maxProtocol: 4,
                        client,
                        role,
                        scopes,
                        caps: [],
                        auth: { token },
                        device: {
                            id: deviceId,
                            publicKey: publicRaw.toString("base64url"),
                            signature: crypto.sign(null, Buffer.from(proof), keys.privateKey).toString("base64url"),
                            signedAt: ts,
                            nonce,
                        },
                    },
                }));
            } else if (frame.type === "res" && frame.id === "connect") {
                if (frame.ok) {
                    settled = true;
                    socket = ws;
                    connections += 1;
                    resolve(ws);
                } else {
                    fail(new Error(`connect refused: ${frame.error?.message || "unknown"}`));
                    ws.close();
                }
            } else if (frame.type === "res" && pending.has(frame.id)) {
                // `agent` answers twice: first {status: "accepted"}, then the final result.
                if (frame.ok && frame.payload?.status === "accepted") return;
                const { resolve: done, reject: failed } = pending.get(frame.id);
                pending.delete(frame.id);
                if (frame.ok) done(frame.payload);
                else failed(new Error(frame.error?.message || "request failed"));
            }
        });
    });
}

// The open connection, or a new one: backoff 100 ms doubling to 5 s while the gateway is away.
async function connection() {
    if (socket && socket.readyState === WebSocket.OPEN) return socket;
    if (!connecting) {
        connecting = (async () => {
            for (let delay = 100; !stopping; delay = Math.min(delay * 2, 5000)) {
                try {
                    const ws = await connectOnce();
                    log(`connected to ${url} (connection ${connections})`);
                    return ws;
                } catch (error) {
                    log(`${error.message}; retrying in ${delay} ms`);
                    await new Promise((r) => setTimeout(r, delay));
                }
            }
            throw new Error("stopping");
        })().finally(() => (connecting = null));
    }
    return connecting;
}

async function request(method, params) {
    const ws = await connection();
    const id = crypto.randomUUID();
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            pending.delete(id);
            reject(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
            resolve: (v) => (clearTimeout(timer), resolve(v)),
            reject: (e) => (clearTimeout(timer), reject(e)),
        });
        ws.send(JSON.stringify({ type: "req", id, method, params }));
    });
}

function parse(line) {
    if (line.trimStart().startsWith("{")) {
        try {
            return JSON.parse(line);
        } catch {}
    }
    return { message: line };
}

let count = 0;
async function handle(line) {
    const n = ++count;
    const { message, model, session } = parse(line);
    const started = performance.now();
    // A turn lost with its connection (the gateway restarted mid-turn) is sent once more, with
    // the same idempotency key, so a gateway that already had it does not run it twice.
    const idempotencyKey = crypto.randomUUID();
    for (let attempt = 1; ; attempt++) {
        try {
            const result = await request("agent", {
                message: String(message),
                agentId: "main",
                sessionKey: session || `agent:main:worker-${n}`,
                model: model || undefined,
                deliver: false,
                idempotencyKey,
            });
            const payloads = result?.result?.payloads ?? [];
            const text = payloads.map((p) => p.text).filter(Boolean).join("\n");
            const ok = result?.status === "ok" && !payloads.some((p) => p.isError);
            const reply = { n, ok, text, ms: Math.round(performance.now() - started) };
            if (!ok) reply.error = result?.summary || text || "no reply";
            return say(reply);
        } catch (error) {
            if (attempt < 2 && error.message === "connection lost") continue;
            return say({ n, ok: false, error: error.message, ms: Math.round(performance.now() - started) });
        }
    }
}

for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => {
        stopping = true;
        log(`${signal}: stopping`);
        socket?.close(1000, "worker stopping");
        process.exit(0);
    });
}

// First what clawinit promises: the gateway is ready when the worker starts (its own /readyz).
let ready = false;
try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5000) });
    ready = res.status === 200 && (await res.json()).ready === true;
} catch {}
log(`gateway on port ${port} ready=${ready}; token ${token ? "set" : "missing"}`);
await connection();
// Messages are handled one at a time, in order; the event loop stays alive until a signal.
const idle = setInterval(() => {}, 1 << 30);
let queue = Promise.resolve();
readline.createInterface({ input: process.stdin }).on("line", (line) => {
    if (line.trim()) queue = queue.then(() => handle(line));
});
void idle;
