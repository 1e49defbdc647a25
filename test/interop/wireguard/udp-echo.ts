/** A UDP echo server for the interop test: `bun udp-echo.ts <ip> <port>`, prints "ready". */
const [host, port] = [process.argv[2], Number(process.argv[3])];
await Bun.udpSocket({
  hostname: host,
  port,
  socket: {
    data(sock, data, srcPort, srcAddr) {
      sock.send(data, srcPort, srcAddr);
    },
  },
});
process.stdout.write("ready\n");

export {};
