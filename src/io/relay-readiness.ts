/**
 * Readiness of FFI sockets for a thread that must keep serving Bun's event loop: an epoll set
 * watched by a small Worker (relay-readiness-worker.ts) that blocks in `epoll_wait` and wakes the
 * main thread through `Atomics.waitAsync`. One wake-up per idle→busy transition, not per packet:
 * the owner drains the ready sockets until they run dry (yielding to the event loop between
 * rounds) and only then calls `arm()` again. epoll is level-triggered, so nothing that arrives
 * while the owner drains is lost.
 */
import { existsSync, readdirSync } from "node:fs";
import { EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_EVENT_DATA_OFFSET, EPOLL_EVENT_SIZE, EPOLLIN, check, libc, pinned } from "../../ffi/libc.ts";

/** Int32 indexes of the shared control block. */
export const CTL_ARMED = 0;
export const CTL_READY = 1;
export const CTL_STOP = 2;
export const CTL_FDS = 4;
export const CTL_MAX_FDS = 64;

export class Readiness {
  private readonly epfd: number;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(4 * (CTL_FDS + CTL_MAX_FDS)));
  private readonly worker: Worker;
  private readonly stopped: Promise<void>;
  private readonly event = pinned(EPOLL_EVENT_SIZE);
  private readonly eventView = new DataView(this.event.buffer);
  private waiting = false;
  private closed = false;
  /** Wake-ups delivered (for the bench and the tests). */
  wakeups = 0;

  /** `onReady(ctl, from, count)`: fds `ctl[from .. from + count)` are readable. */
  constructor(private readonly onReady: (fds: Int32Array, from: number, count: number) => void) {
    this.epfd = check(libc.epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
    try {
      this.worker = new Worker(readinessWorkerUrl());
    } catch (e) {
      libc.close(this.epfd);
      throw e;
    }
    this.stopped = new Promise<void>((resolve) => {
      this.worker.onmessage = () => resolve();
      this.worker.onerror = () => resolve();
    });
    this.worker.postMessage({ epfd: this.epfd, ctl: this.ctl.buffer });
    // The owner's sockets and timers keep the process alive, not this helper.
    this.worker.unref();
  }

  add(fd: number): void {
    this.eventView.setUint32(0, EPOLLIN, true);
    this.eventView.setInt32(EPOLL_EVENT_DATA_OFFSET, fd, true);
    this.eventView.setInt32(EPOLL_EVENT_DATA_OFFSET + 4, 0, true);
    check(libc.epoll_ctl(this.epfd, EPOLL_CTL_ADD, fd, this.event), "epoll_ctl ADD");
  }

  /** Before closing `fd` (closing also removes it, but only once no other reference exists). */
  remove(fd: number): void {
    libc.epoll_ctl(this.epfd, EPOLL_CTL_DEL, fd, this.event);
  }

  /** Lets the Worker wait for the next readable socket; call when every socket ran dry. */
  arm(): void {
    if (this.closed) return;
    Atomics.store(this.ctl, CTL_READY, 0);
    Atomics.store(this.ctl, CTL_ARMED, 1);
    Atomics.notify(this.ctl, CTL_ARMED);
    if (!this.waiting) this.wait();
  }

  /**
   * Stops the Worker. It may sit in epoll_wait for up to IDLE_WAIT_MS more; the epoll fd is closed
   * once it has left (a closed and reused fd number must never reach its epoll_wait).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctl, CTL_STOP, 1);
    Atomics.store(this.ctl, CTL_ARMED, 1);
    Atomics.notify(this.ctl, CTL_ARMED);
    // Resolve our own pending waitAsync so it holds nothing.
    Atomics.store(this.ctl, CTL_READY, -1);
    Atomics.notify(this.ctl, CTL_READY);
    const epfd = this.epfd;
    void this.stopped.then(() => {
      this.worker.terminate();
      libc.close(epfd);
    });
  }

  private wait(): void {
    this.waiting = true;
    const r = Atomics.waitAsync(this.ctl, CTL_READY, 0);
    if (r.async) void r.value.then(this.fire);
    else queueMicrotask(this.fire);
  }

  private readonly fire = (): void => {
    this.waiting = false;
    if (this.closed) return;
    const n = Atomics.load(this.ctl, CTL_READY);
    if (n <= 0) return this.wait();
    this.wakeups++;
    this.onReady(this.ctl, CTL_FDS, n);
  };
}

/**
 * Where the Worker's code is: next to this file from source; in a `bun build --compile` binary an
 * entry point under /$bunfs/root/ (as `.js`, at its path relative to the entries' common folder).
 */
export function readinessWorkerUrl(): string {
  const here = new URL("./relay-readiness-worker.ts", import.meta.url);
  if (!here.pathname.startsWith("/$bunfs/")) return here.href;
  for (const rel of ["src/io/relay-readiness-worker.js", "io/relay-readiness-worker.js", "relay-readiness-worker.js"]) {
    const candidate = `/$bunfs/root/${rel}`;
    if (existsSync(candidate)) return candidate;
  }
  try {
    const found = readdirSync("/$bunfs/root", { recursive: true }).map(String).find((f) => f.endsWith("relay-readiness-worker.js"));
    if (found) return `/$bunfs/root/${found}`;
  } catch {
    // fall through to the error below
  }
  throw new Error("relay readiness Worker not in this binary: build with `bun build --compile <main> src/io/relay-readiness-worker.ts`");
}
