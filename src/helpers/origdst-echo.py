#!/usr/bin/env python3
"""netlab helper: a transparent-proxy stand-in for the REDIRECT lab.

Listens on a TCP port (connections arrive there through `iptables -t nat ... -j REDIRECT`),
recovers each connection's original destination with getsockopt(SO_ORIGINAL_DST) from conntrack,
and answers the client with one line:  original destination IP:PORT (proxy saw peer IP:PORT)
Usage: origdst-echo.py PORT
"""
import socket
import struct
import sys
import threading

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h


def handle(conn: socket.socket, peer) -> None:
    with conn:
        raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
        port, packed = struct.unpack_from("!2xH4s", raw)
        line = f"original destination {socket.inet_ntoa(packed)}:{port} (proxy saw peer {peer[0]}:{peer[1]})\n"
        print(line, end="", flush=True)
        conn.sendall(line.encode())


def main() -> None:
    port = int(sys.argv[1])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(64)
    print(f"listening on {port}", flush=True)
    while True:
        conn, peer = srv.accept()
        threading.Thread(target=handle, args=(conn, peer), daemon=True).start()


if __name__ == "__main__":
    main()
