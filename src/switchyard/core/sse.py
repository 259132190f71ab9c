"""Incremental Server-Sent Events codec (sans-IO).

:class:`SSEDecoder` takes bytes in any chunking and returns complete frames. Lines are split on
bytes before decoding, and only CR, LF and CRLF end a line (a CR at the end of one chunk followed
by LF at the start of the next is one line ending). Multi-line ``data`` is joined with LF;
comment lines (``:``) are reported as frames with ``comment`` set, so relays can forward
keep-alives; ``id`` and ``retry`` are kept. ``flush()`` returns a last frame that had no blank
line after it. A frame larger than ``max_frame_bytes`` raises :class:`SSEFrameTooLarge`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024


class SSEFrameTooLarge(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"SSE frame exceeds the maximum size of {limit} bytes")
        self.limit = limit


@dataclass(slots=True)
class SSEFrame:
    data: str = ""
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None


class SSEDecoder:
    """Bytes in, frames out. One per stream."""

    __slots__ = ("_buf", "_data", "_event", "_has_data", "_id", "_max", "_retry", "_size", "_skip_lf")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self._buf = b""
        self._max = max_frame_bytes
        self._skip_lf = False
        self._reset()

    def _reset(self) -> None:
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._has_data = False
        self._size = 0

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        frames: list[SSEFrame] = []
        if not chunk:
            return frames
        buf = self._buf + chunk if self._buf else chunk
        if self._skip_lf:
            self._skip_lf = False
            if buf[:1] == b"\n":
                buf = buf[1:]
                if not buf:
                    self._buf = b""
                    return frames
        # bytes.splitlines breaks at CR, LF and CRLF only (unlike str.splitlines)
        lines = buf.splitlines()
        self._buf = lines.pop() if buf[-1:] not in (b"\n", b"\r") else b""
        for raw in lines:
            if raw[:6] == b"data: ":  # the common line, without the general parse of _line
                self._size += len(raw)
                if self._size > self._max:
                    raise SSEFrameTooLarge(self._max)
                self._data.append(raw[6:].decode("utf-8", "replace"))
                self._has_data = True
                continue
            frame = self._line(raw)
            if frame is not None:
                frames.append(frame)
        # a CR at the very end: the LF of a CRLF may arrive in the next chunk
        self._skip_lf = not self._buf and buf[-1:] == b"\r"
        if len(self._buf) + self._size > self._max:
            raise SSEFrameTooLarge(self._max)
        return frames

    @property
    def idle(self) -> bool:
        """Between frames: nothing of a next frame has been fed yet."""
        return not self._buf and not self._skip_lf and self._size == 0

    def flush(self) -> list[SSEFrame]:
        """End of stream: return the last frame if it was not followed by a blank line."""
        frames: list[SSEFrame] = []
        if self._buf:
            frame = self._line(self._buf)
            self._buf = b""
            if frame is not None:
                frames.append(frame)
        frame = self._dispatch()
        if frame is not None:
            frames.append(frame)
        return frames

    def _line(self, raw: bytes) -> SSEFrame | None:
        if not raw:
            return self._dispatch()
        self._size += len(raw)
        if self._size > self._max:
            raise SSEFrameTooLarge(self._max)
        line = raw.decode("utf-8", "replace")
        if line[0] == ":":
            return SSEFrame(comment=line[1:].removeprefix(" "))
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEFrame | None:
        if not (self._has_data or self._event is not None or self._id is not None or self._retry is not None):
            self._reset()
            return None
        frame = SSEFrame("\n".join(self._data), self._event, self._id, self._retry)
        self._reset()
        return frame


def frame_event(raw: bytes) -> bytes | None:
    """The event name of one raw frame (its bytes without the blank line after it) whose first
    line is its only ``event: `` line; None otherwise (a caller treats None as "unsure")."""
    if not raw.startswith(b"event: ") or raw.count(b"event:") != 1:
        return None
    end = raw.find(b"\n")
    return raw[7:] if end == -1 else raw[7:end]


def encode_frame(data: str | bytes, event: str | None = None, *, crlf: bool = False) -> bytes:
    """One SSE frame. Multi-line data becomes several ``data:`` lines."""
    raw = data.encode() if isinstance(data, str) else data
    eol = b"\r\n" if crlf else b"\n"
    out = b"event: " + event.encode() + eol if event else b""
    if b"\n" in raw or b"\r" in raw:
        lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        out += b"".join(b"data: " + line + eol for line in lines)
    else:
        out += b"data: " + raw + eol
    return out + eol


def encode_comment(text: str = "keepalive") -> bytes:
    return b": " + text.encode() + b"\n\n"
