/**
 * A port the kernel just handed out and took back, for a server process a test is about to start.
 * Another program may take it in between; tests on loopback accept that small race.
 */
export async function freeUdpPort(hostname = "127.0.0.1"): Promise<number> {
  const s = await Bun.udpSocket({ hostname, port: 0 });
  const port = s.port;
  s.close();
  return port;
}

export async function freeTcpPort(hostname = "127.0.0.1"): Promise<number> {
  const s = Bun.listen({ hostname, port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}
