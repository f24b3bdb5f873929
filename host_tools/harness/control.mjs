// A board harness's control side channel, for both harnesses (the virtual board and the emulated
// Pico): JSON lines in, JSON lines out on 127.0.0.1. A reply carries its request's id; events
// ({"event": ..., "vtime_ms": ...}) go to every connection. Also the process's lifetime: quit()
// on SIGINT/SIGTERM, or when stdin ends (a parent that died).
import net from "node:net";

export class ControlChannel {
  // handle(request) -> Promise of the reply's fields; nowMs() -> the harness's world time.
  constructor(handle, nowMs) {
    this.handle = handle;
    this.nowMs = nowMs;
    this.connections = new Set();
  }

  emit(event, data = {}) {
    const line = JSON.stringify({ event, vtime_ms: Math.floor(this.nowMs()), ...data }) + "\n";
    for (const c of this.connections) c.write(line);
  }

  listen(port = 0, host = "127.0.0.1") {
    return listenOn((sock) => this._serve(sock), port, host);
  }

  _serve(sock) {
    this.connections.add(sock);
    let pending = "";
    sock.on("data", (chunk) => {
      pending += chunk.toString("utf8");
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const text = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!text) continue;
        let req;
        try {
          req = JSON.parse(text);
        } catch {
          sock.write(JSON.stringify({ ok: false, error: "not JSON" }) + "\n");
          continue;
        }
        this.handle(req).then(
          (res) => sock.write(JSON.stringify({ id: req.id, ok: true, ...res }) + "\n"),
          (err) => sock.write(JSON.stringify({ id: req.id, ok: false, error: err.message }) + "\n"),
        );
      }
    });
    sock.on("close", () => this.connections.delete(sock));
    sock.on("error", () => this.connections.delete(sock));
  }

  close() {
    for (const c of this.connections) c.destroy();
  }
}

export function listenOn(handler, port = 0, host = "127.0.0.1") {
  return new Promise((resolve) => {
    const server = net.createServer(handler);
    server.listen(port, host, () => resolve(server));
  });
}

// Ends the process cleanly (servers closed, shutdown() run) on a signal, or when stdin ends.
export function quitOn(servers, shutdown, onStdinEof) {
  const quit = () => {
    for (const s of servers) s.close();
    shutdown();
    process.exit(0);
  };
  process.on("SIGINT", quit);
  process.on("SIGTERM", quit);
  if (onStdinEof) {
    process.stdin.on("end", quit);
    process.stdin.resume();
  }
  return quit;
}

export const socketUrl = (server) => `socket://127.0.0.1:${server.address().port}`;
