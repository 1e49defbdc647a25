import { expect, test } from "bun:test";
import { parseCandidate, type Candidate } from "../../src/ice/candidate.ts";
import { optimisticCandidates } from "../../src/snownet/optimistic-candidates.ts";

const c = (sdp: string): Candidate => {
  const r = parseCandidate(sdp);
  if (!r.ok) throw new Error(r.reason);
  return r.candidate;
};

test("public IPv4 × host port, at most two, none already known, none for IPv6", () => {
  const host1 = c("candidate:1 1 udp 2130706175 10.0.0.1 52625 typ host");
  const host2 = c("candidate:2 1 udp 2130706175 10.0.1.1 52626 typ host");
  const host3 = c("candidate:3 1 udp 2130706175 10.0.2.1 52627 typ host");
  const host6 = c("candidate:4 1 udp 2130706431 fd00::1 52625 typ host");
  const srflx = c("candidate:5 1 udp 1694498815 198.51.100.9 40000 typ srflx raddr 10.0.0.1 rport 52625");
  const made = optimisticCandidates([host1, host2, host3, host6, srflx]);
  expect(made.map((m) => `${m.kind} ${m.ip}:${m.port}`)).toEqual(["srflx 198.51.100.9:52625", "srflx 198.51.100.9:52626"]);
  expect(made[0]!.related).toEqual({ ip: "10.0.0.1", port: 52625 });
  // Once those are known, the next call offers the third.
  expect(optimisticCandidates([host1, host2, host3, srflx, ...made]).map((m) => m.port)).toEqual([52627]);
  // Nothing without a srflx, nothing when the srflx already has the host's port.
  expect(optimisticCandidates([host1, host2])).toEqual([]);
  expect(optimisticCandidates([host1, c("candidate:6 1 udp 1694498815 198.51.100.9 52625 typ srflx raddr 10.0.0.1 rport 52625")])).toEqual([]);
});
