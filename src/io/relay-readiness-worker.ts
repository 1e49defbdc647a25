/**
 * Entry point of the relay's readiness Worker: it blocks in `epoll_wait` on the relay's UDP
 * sockets so the main thread never has to, and tells the main thread which became readable.
 *
 * Handshake over the shared Int32Array (layout in relay-readiness.ts): the Worker waits until the
 * main thread arms it, waits for readiness, publishes the ready fds, disarms itself and notifies.
 * The main thread drains those sockets until they run dry and only then arms it again, so under
 * load this thread sleeps and the data path runs without any cross-thread traffic.
 */
import { EPOLL_EVENT_DATA_OFFSET, EPOLL_EVENT_SIZE, libc, pinned } from "../../ffi/libc.ts";
import { CTL_ARMED, CTL_FDS, CTL_MAX_FDS, CTL_READY, CTL_STOP } from "./relay-readiness.ts";

declare const self: Worker;

/** Wakes up this often without events to notice a stop request. */
const IDLE_WAIT_MS = 250;

self.onmessage = (e: MessageEvent<{ epfd: number; ctl: SharedArrayBuffer }>) => {
  const { epfd, ctl: sab } = e.data;
  const ctl = new Int32Array(sab);
  // Pinned and held in this frame for the loop's whole life (bun-lab §0).
  const events = pinned(CTL_MAX_FDS * EPOLL_EVENT_SIZE);
  const view = new DataView(events.buffer);
  for (;;) {
    Atomics.wait(ctl, CTL_ARMED, 0);
    if (Atomics.load(ctl, CTL_STOP) !== 0) break;
    const n = libc.epoll_wait(epfd, events, CTL_MAX_FDS, IDLE_WAIT_MS);
    if (Atomics.load(ctl, CTL_STOP) !== 0) break;
    if (n <= 0) continue; // timeout or EINTR
    for (let k = 0; k < n; k++) ctl[CTL_FDS + k] = view.getInt32(k * EPOLL_EVENT_SIZE + EPOLL_EVENT_DATA_OFFSET, true);
    Atomics.store(ctl, CTL_ARMED, 0);
    Atomics.store(ctl, CTL_READY, n);
    Atomics.notify(ctl, CTL_READY);
  }
  self.postMessage("stopped");
};
