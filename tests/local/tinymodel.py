"""A tiny llama model, written with the ``gguf`` package, whose answer is known in advance.

Nothing is downloaded: the test suite makes this model itself (:func:`write_model`, about 590 KB)
and serves it with llama.cpp's server. It is a real 2-layer llama graph (embedding 64, 4 heads,
FFN 128, f32) with a SentencePiece-style vocabulary (``<unk> <s> </s>``, ChatML's
``<|im_start|> <|im_end|>``, the 256 byte tokens, printable pieces) and a ChatML chat template.
Its weights are set by hand so that greedy or sampled decoding (any temperature up to 2, the
server's repeat penalty included) always gives:

- :data:`SENTENCE` — ``Hello from the tiny model.`` — then end of turn (``<|im_end|>``, the EOS
  token): 6 tokens, whatever the prompt;
- when the prompt holds :data:`MARKER` anywhere, the sentence again and again (`` Hello from the
  tiny model.`` each time after the first) until the token limit or the context is full: a long
  stream on demand.

How the weights do it (positions are independent of the prompt's length):

- The residual stream has one dimension per *chain* token (the newline byte that ends ChatML's
  ``<|im_start|>assistant\\n``, then each token of the sentence), one for "any other token", one
  constant, one "is the marker", and one "a marker was seen".
- The output matrix maps each chain token to the next token of the sentence (a bigram chain);
  any other token starts the sentence. After the final ``.`` the logits favour EOS, unless the
  "marker seen" dimension is set, which favours `` Hello`` (the sentence again) by more.
- Layer 0, head 0 sets "marker seen": its query is the constant dimension and its key the "is the
  marker" dimension, so every position attends (almost entirely) to the marker positions when
  there are any, and its value carries the marker flag; without a marker the attention averages
  zeros. Query and key live in the head's last rotary pair, and ``rope.freq_base`` is huge, so
  the rotary embedding leaves them alone (the score does not depend on distance).
- Every other weight is zero, and the norms are ones.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np

MODEL = "tiny"
"""The name llama.cpp's server gives it (``--model_alias``)."""
SENTENCE = "Hello from the tiny model."
SENTENCE_TOKENS = 6
MARKER = "⟳"
"""A character that, anywhere in the prompt, makes the model repeat its sentence until the limit."""

PIECES = ["Hello", " from", " the", " tiny", " model", "."]
"""The sentence's tokens as text; it starts again with " Hello"."""


def answer(tokens: int) -> str:
    """The text of the first ``tokens`` tokens of the (repeated) answer."""
    out = [PIECES[0]]
    for i in range(1, tokens):
        out.append(" Hello" if i % len(PIECES) == 0 else PIECES[i % len(PIECES)])
    return "".join(out)


N_EMBD = 64
N_HEAD = 4
N_FF = 128
N_LAYER = 2
HEAD_DIM = N_EMBD // N_HEAD
CONTEXT_LENGTH = 32768

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% elif message['content'] %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# token types (gguf.TokenType)
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6
SPACE = "\u2581"  # SentencePiece's word boundary

# the sentence as pieces; the chain: "\n" -> Hello -> from -> the -> tiny -> model -> . -> EOS
CHAIN = ["<0x0A>", "Hello", f"{SPACE}from", f"{SPACE}the", f"{SPACE}tiny", f"{SPACE}model", ".", f"{SPACE}Hello"]
WORDS = [
    "assistant", "user", "system", "tool", "the", "and", "to", "of", "a", "in", "is", "you", "that", "it",
    "for", "on", "with", "as", "are", "be", "this", "from", "tiny", "model", "Hello", "hello", "hi",
]  # fmt: skip


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Pieces, scores and types. Word pieces come with every prefix, so SentencePiece's merges
    (which join two pieces only into a piece of the vocabulary) can build them."""
    pieces = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    types = [UNKNOWN, CONTROL, CONTROL, CONTROL, CONTROL]
    pieces += [f"<0x{b:02X}>" for b in range(256)]
    types += [BYTE] * 256
    normal: list[str] = [SPACE, MARKER, *(chr(c) for c in range(33, 127))]
    for word in WORDS:
        for spaced in (word, SPACE + word):
            normal += [spaced[:i] for i in range(2, len(spaced) + 1)]
    normal += [p for p in CHAIN if not p.startswith("<")]
    seen = set(pieces)
    for piece in normal:
        if piece not in seen:
            seen.add(piece)
            pieces.append(piece)
            types.append(NORMAL)
    # longer pieces merge first; single characters and bytes score lowest
    scores = [0.0 if t != NORMAL else float(len(p)) - 100.0 for p, t in zip(pieces, types, strict=True)]
    return pieces, scores, types


def weights(pieces: list[str]) -> dict[str, np.ndarray]:
    """The tensors (numpy layout: rows are outputs), by GGUF name."""
    ids = {p: i for i, p in enumerate(pieces)}
    n_vocab = len(pieces)
    chain = {piece: d for d, piece in enumerate(CHAIN)}  # residual dimension of each chain token
    other, const, is_marker, seen = len(CHAIN), len(CHAIN) + 1, len(CHAIN) + 2, len(CHAIN) + 3
    f32 = np.float32

    embd = np.zeros((n_vocab, N_EMBD), f32)
    for i, piece in enumerate(pieces):
        embd[i, chain.get(piece, other)] = 1.0
        embd[i, const] = 1.0
    embd[ids[MARKER], is_marker] = 1.0

    nxt, eos_bias, again = 30.0, 10.0, 20.0
    out = np.zeros((n_vocab, N_EMBD), f32)
    for here, there in pairwise(CHAIN[:-1]):  # the last chain token is the sentence's second start
        out[ids[there], chain[here]] = nxt
    out[ids["Hello"], other] = nxt  # any other last token: the sentence starts
    out[ids[f"{SPACE}from"], chain[f"{SPACE}Hello"]] = nxt
    out[ids["<|im_end|>"], chain["."]] = eos_bias  # after the full stop: end of turn ...
    out[ids[f"{SPACE}Hello"], seen] = again  # ... unless a marker was seen: the sentence again

    tensors: dict[str, np.ndarray] = {
        "token_embd.weight": embd,
        "output_norm.weight": np.ones(N_EMBD, f32),
        "output.weight": out,
    }
    for layer in range(N_LAYER):
        q = np.zeros((N_EMBD, N_EMBD), f32)
        k = np.zeros((N_EMBD, N_EMBD), f32)
        v = np.zeros((N_EMBD, N_EMBD), f32)
        o = np.zeros((N_EMBD, N_EMBD), f32)
        if layer == 0:
            slot = HEAD_DIM - 2  # head 0, its last rotary pair: barely rotated at all
            q[slot, const] = 4.0
            k[slot, is_marker] = 4.0
            v[0, is_marker] = 1.0
            o[seen, 0] = (3 / N_EMBD) ** 0.5  # the marker's normalised flag is 1 / rms = (64 / 3) ** 0.5: back to 1
        prefix = f"blk.{layer}."
        tensors |= {
            prefix + "attn_norm.weight": np.ones(N_EMBD, f32),
            prefix + "attn_q.weight": q,
            prefix + "attn_k.weight": k,
            prefix + "attn_v.weight": v,
            prefix + "attn_output.weight": o,
            prefix + "ffn_norm.weight": np.ones(N_EMBD, f32),
            prefix + "ffn_gate.weight": np.zeros((N_FF, N_EMBD), f32),
            prefix + "ffn_up.weight": np.zeros((N_FF, N_EMBD), f32),
            prefix + "ffn_down.weight": np.zeros((N_EMBD, N_FF), f32),
        }
    return tensors


def write_model(path: Path | str) -> Path:
    """Write the model to ``path`` (a .gguf file); returns the path."""
    import gguf  # the test extras install it

    path = Path(path)
    pieces, scores, types = vocabulary()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("switchyard-tiny")
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_rope_freq_base(1e12)
    writer.add_file_type(0)  # all f32
    writer.add_tokenizer_model("llama")
    writer.add_token_list(pieces)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(pieces.index("<s>"))
    writer.add_eos_token_id(pieces.index("<|im_end|>"))
    writer.add_unk_token_id(pieces.index("<unk>"))
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    for name, tensor in weights(pieces).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":
    import sys

    print(write_model(sys.argv[1] if len(sys.argv) > 1 else "tiny.gguf"))
