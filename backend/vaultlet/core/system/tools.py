"""sys/tools/random and sys/tools/hash: random bytes and digests, as Vault's.

Both need a token allowed on the path (``update``); neither touches storage. Random
bytes come from the operating system's CSPRNG: vaultlet's seals augment no entropy,
so the ``seal`` source answers with Vault's warning and platform bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from vaultlet.errors import UserError
from vaultlet.framework.fields import INT, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import UPDATE, Response

_MAX_RANDOM_BYTES = 128 * 1024
_SOURCES = ("platform", "seal", "all")
_DIGESTS = {
    "sha2-224": "sha224",
    "sha2-256": "sha256",
    "sha2-384": "sha384",
    "sha2-512": "sha512",
    "sha3-224": "sha3_224",
    "sha3-256": "sha3_256",
    "sha3-384": "sha3_384",
    "sha3-512": "sha3_512",
}


def _encode(raw: bytes, output_format: str) -> str:
    if output_format == "hex":
        return raw.hex()
    if output_format == "base64":
        return base64.b64encode(raw).decode()
    raise UserError(f'unsupported encoding format "{output_format}"; must be "hex" or "base64"')


def random_write(backend, request, fields) -> Response:
    source = fields["source"] or "platform"
    if source not in _SOURCES:
        raise UserError(f'unsupported entropy source "{source}"; must be "platform" or "seal", or "all"')
    count = _byte_count(fields)
    response = Response(
        data={"random_bytes": _encode(secrets.token_bytes(count), fields["format"] or "base64")}
    )
    if source == "seal":
        response.add_warning("no seal/entropy augmentation available, using platform entropy source")
    return response


def _byte_count(fields) -> int:
    if fields["urlbytes"]:
        try:
            count = int(fields["urlbytes"])
        except ValueError:
            quoted = f'"{fields["urlbytes"]}"'
            raise UserError(
                f"error parsing url-set byte count: strconv.Atoi: parsing {quoted}: invalid syntax"
            ) from None
    else:
        count = fields["bytes"] or 32
    if count < 1:
        raise UserError("missing bytes count")
    if count > _MAX_RANDOM_BYTES:
        raise UserError(f"'bytes' should be less than {_MAX_RANDOM_BYTES}")
    return count


def hash_write(backend, request, fields) -> Response:
    algorithm = fields["urlalgorithm"] or fields["algorithm"] or "sha2-256"
    if algorithm not in _DIGESTS:
        raise UserError(f"unsupported algorithm {algorithm}")
    try:
        data = base64.b64decode(fields["input"], validate=True)
    except (binascii.Error, ValueError) as error:
        raise UserError(f"unable to decode input as base64: {error}") from None
    output_format = fields["format"] or "hex"
    if output_format not in ("hex", "base64"):
        # Vault quotes the format in sys/tools/random's message, not in this one.
        raise UserError(f'unsupported encoding format {output_format}; must be "hex" or "base64"')
    digest = hashlib.new(_DIGESTS[algorithm], data).digest()
    return Response(data={"sum": _encode(digest, output_format)})


_RANDOM_FIELDS = {
    "urlbytes": Field(STRING, "Number of bytes, in the URL", in_path=True),
    "source": Field(STRING, 'Entropy source: "platform", "seal" or "all"', in_path=True),
    "bytes": Field(INT, "Number of bytes (default 32)"),
    "format": Field(STRING, 'Output encoding: "base64" (default) or "hex"'),
}
_HASH_FIELDS = {
    "urlalgorithm": Field(STRING, "Algorithm, in the URL", in_path=True),
    "input": Field(STRING, "The base64-encoded input"),
    "algorithm": Field(STRING, "sha2-224, sha2-256 (default), sha2-384, sha2-512 or sha3-*"),
    "format": Field(STRING, 'Output encoding: "hex" (default) or "base64"'),
}

PATHS = [
    Path(
        # random/<bytes> or random/<source>/<bytes>: a lone segment is the byte count.
        pattern=r"tools/random(?:/(?P<source>[^/]+)(?=/[^/]+$))?(?:/(?P<urlbytes>[^/]+))?",
        fields=_RANDOM_FIELDS,
        operations={UPDATE: random_write},
        synopsis="Random bytes from the platform's CSPRNG.",
    ),
    Path(
        pattern=r"tools/hash(?:/(?P<urlalgorithm>[^/]+))?",
        fields=_HASH_FIELDS,
        operations={UPDATE: hash_write},
        synopsis="The digest of base64-encoded input.",
    ),
]
