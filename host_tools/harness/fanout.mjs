// The host side of a board's USB serial, for both harnesses (the virtual board and the emulated
// Pico): a TCP server whose clients all get every byte the device sends, in whole lines, and all
// may write to it. A client that reads slowly holds the device back (backpressure, as a USB host
// that polls late); a client that stops reading for STALL_MS is "not reading": it is dropped
// for, counted, and resumes at a line start once it reads again, so it never starves the others.
import net from "node:net";

const HIGH_WATER = 16 * 1024; // unsent bytes (after what the kernel buffers) that make a client "behind"
const STALL_MS = 500; // behind, and not one byte taken for this long: not reading
const LF = 10;

export class SerialFanout {
  // onData(bytes) gets what any client sends; ready(n) says n more bytes went out (the device
  // may produce that much again).
  constructor(onData, ready = () => {}) {
    this.onData = onData;
    this.ready = ready;
    this.clients = new Set();
    this.queue = [];
    this.rxBytes = 0; // bytes the clients sent, in all
    this.txDropped = 0; // bytes a client that did not read never got (all clients)
    this.timer = null;
  }

  listen(port = 0, host = "127.0.0.1") {
    const server = net.createServer((sock) => {
      sock.setNoDelay(true);
      sock.taken = 0; // bytes the kernel has taken from us for it
      sock.behindSince = null;
      this.clients.add(sock);
      sock.on("data", (data) => {
        this.rxBytes += data.length;
        this.onData(data);
      });
      sock.on("drain", () => this.pump());
      sock.on("close", () => this.clients.delete(sock));
      sock.on("error", () => this.clients.delete(sock));
      this.pump();
    });
    return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
  }

  // Resolves once the clients have sent n bytes in all: a host syncs its writes to a time step
  // (the control channel and the serial are separate connections, and either may arrive first).
  received(n, timeoutMs = 5000) {
    const deadline = performance.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.rxBytes >= n) resolve();
        else if (performance.now() > deadline) {
          reject(new Error(`only ${this.rxBytes} of ${n} bytes from the host arrived`));
        } else setTimeout(check, 1);
      };
      check();
    });
  }

  // Queues device bytes; returns true once they went out (false: held for a slow reader).
  send(bytes) {
    if (bytes.length) this.queue.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    return this.pump();
  }

  get pending() {
    return this.queue.reduce((n, b) => n + b.length, 0);
  }

  pump() {
    if (!this.queue.length || !this.clients.size) return !this.queue.length;
    const now = performance.now();
    for (const c of this.clients) {
      if (c.writableLength <= HIGH_WATER) {
        c.behindSince = null;
      } else if (c.bytesWritten - c.writableLength !== c.taken || c.behindSince === null) {
        c.taken = c.bytesWritten - c.writableLength; // the kernel still takes its bytes: a
        c.behindSince = now; // slow reader, wait for it
      }
      if (c.behindSince !== null && now - c.behindSince < STALL_MS) {
        this._retry();
        return false;
      }
    }
    const data = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue);
    this.queue = [];
    for (const c of this.clients) this._send(c, data);
    this.ready(data.length);
    return true;
  }

  _retry() {
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, 20);
    }
  }

  // One client's share: a client still behind after STALL_MS gets the line it has begun
  // finished (one chunk at most) and the rest dropped; after a drop that ended mid-line it
  // resumes after the next line end.
  _send(c, data) {
    let out = data;
    if (c.txSkip) {
      const lf = out.indexOf(LF);
      this.txDropped += lf < 0 ? out.length : lf + 1;
      if (lf < 0) return;
      out = out.subarray(lf + 1);
      c.txSkip = false;
    }
    if (out.length && c.writableLength > HIGH_WATER) {
      let keep = 0;
      if (c.txMidLine) {
        const lf = out.indexOf(LF);
        keep = lf < 0 ? out.length : lf + 1;
      }
      if (keep < out.length) {
        this.txDropped += out.length - keep;
        c.txSkip = out[out.length - 1] !== LF;
        out = out.subarray(0, keep);
      }
    }
    if (out.length) {
      c.write(out);
      c.txMidLine = out[out.length - 1] !== LF;
    }
  }

  // The device lost power: what it had not sent yet is gone.
  discard() {
    this.queue = [];
  }

  close() {
    if (this.timer !== null) clearTimeout(this.timer);
    for (const c of this.clients) c.destroy();
  }
}
