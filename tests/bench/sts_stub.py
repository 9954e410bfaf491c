"""A tiny STS endpoint that answers every request at once with a valid AssumeRole reply.

It isolates the broker's own cost: with moto (or AWS) behind it, issuance time is
mostly the upstream's. asyncio with keep-alive, so the stub is never the bottleneck
at 32 concurrent broker threads. Run as a separate process: `python -m bench.sts_stub PORT
[DELAY_MS]`; a delay makes every answer wait that long (real STS answers in tens of ms),
without holding up the other connections.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

_REPLY = """<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleResult><Credentials><AccessKeyId>ASIASTUBSTUBSTUBSTUB</AccessKeyId>
<SecretAccessKey>stub-secret-key-0123456789abcdefghijklmnop</SecretAccessKey>
<SessionToken>stub-session-token</SessionToken><Expiration>{expiration}</Expiration></Credentials>
<AssumedRoleUser><AssumedRoleId>AROASTUB:session</AssumedRoleId>
<Arn>arn:aws:sts::123456789012:assumed-role/stub-role/session</Arn></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>
</AssumeRoleResponse>"""


def _reply() -> bytes:
    expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    body = _REPLY.format(expiration=expiration, request_id=uuid.uuid4()).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


_DELAY = [0.0]


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            if _DELAY[0]:
                await asyncio.sleep(_DELAY[0])
            writer.write(_reply())
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    _DELAY[0] = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
    asyncio.run(main(int(sys.argv[1])))
