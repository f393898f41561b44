#!/usr/bin/env python3
"""Test data for the SentencePiece unigram tokenizer (tests/text).

    make_spm_testdata.py OUT_DIR SEED

Trains unigram models with the `sentencepiece` package on a generated
multi-script corpus and writes, for each model, OUT_DIR/<name>.model and
OUT_DIR/<name>.cases: the ids and normalized form the package produces for
test strings that are not in the training corpus. Models:

  umt5like   nmt_nfkc charsmap, default whitespace rules, no byte fallback,
             ~6000 pieces (UMT5's settings)                 >= 10,000 strings
  bytefb     byte_fallback, user-defined symbols, no dummy prefix, extra
             whitespace kept                                  2,000 strings
  suffix     identity normalization, whitespace as suffix     1,000 strings

.cases layout (little-endian): b"RLSPMT1\\n", u32 count, then per case
u32 text_len, text bytes, u32 normalized_len, normalized bytes, u32 n_ids,
i32 ids[n_ids].
"""
import io
import random
import struct
import sys
import time

import sentencepiece as spm


def char_range(lo, hi):
    return [chr(c) for c in range(lo, hi + 1)]


LATIN = list("abcdefghijklmnopqrstuvwxyz") * 3 + list("ABCDEFGHIJKLMNOPQRSTUVWXYZ") \
    + list("éèêëàâäôöûüùçñßøåæœíóúãõ")
CYRILLIC = char_range(0x430, 0x44F) * 2 + char_range(0x410, 0x42F) + ["ё", "Ё"]
GREEK = char_range(0x3B1, 0x3C9) * 2 + char_range(0x391, 0x3A9) + list("άέήίόύώ")
CJK = char_range(0x4E00, 0x4E00 + 700)
KANA = char_range(0x3041, 0x3093) + char_range(0x30A1, 0x30F3)
HALFWIDTH_KANA = char_range(0xFF66, 0xFF9D)
HANGUL = char_range(0xAC00, 0xAC00 + 300)
ARABIC = char_range(0x627, 0x64A)
DEVANAGARI = char_range(0x905, 0x939)
DEVANAGARI_SIGNS = char_range(0x93E, 0x94D)
FULLWIDTH = char_range(0xFF10, 0xFF19) + char_range(0xFF21, 0xFF3A) + char_range(0xFF41, 0xFF5A) \
    + list("，。！？：；（）「」『』、【】〜・")
PUNCT = list(".,;:!?'\"()[]{}-–—…/\\@#$%&*+=<>|~^_`")
DIGITS = list("0123456789")
EMOJI = char_range(0x1F600, 0x1F64F) + char_range(0x1F300, 0x1F320) + ["❤", "✨", "☀", "⚡"]
EMOJI_SEQ = ["👨\u200d👩\u200d👧", "👍🏽", "🏳️\u200d🌈", "❤️", "🇫🇷", "1️⃣"]
LIGATURES = list("ﬁﬂﬀﬃﬄﬅﬆ") + ["Ĳ", "ǆ", "㎏", "㍻", "①", "⑩", "Ⅻ", "™", "½", "²", "ℌ", "ﷺ"]
COMBINING = char_range(0x300, 0x36F)
SPACES = [" "] * 12 + ["  ", "\t", "\u00a0", "\u3000", "\u2009", "\u200b", "\n", "   ", "\u2028", "\r\n"]
RARE = char_range(0x20000, 0x20100) + char_range(0xE000, 0xE0FF) + char_range(0x1D400, 0x1D4FF) \
    + char_range(0x2800, 0x28FF) + char_range(0x0E00, 0x0E5B) + char_range(0x10A0, 0x10FF) \
    + ["\x01", "\x07", "\x7f", "\ufffd", "\ufeff", "\u00ad"]

SCRIPTS = [
    (LATIN, 30), (CYRILLIC, 10), (GREEK, 6), (CJK, 8), (KANA, 4), (HANGUL, 3),
    (ARABIC, 5), (DEVANAGARI, 5), (FULLWIDTH, 4), (HALFWIDTH_KANA, 1),
]


class Gen:
    def __init__(self, rng):
        self.rng = rng
        # A fixed lexicon per script, so the corpus has real repeated words.
        self.lexicon = {}
        for pool, _ in SCRIPTS:
            words = []
            for _ in range(300):
                n = rng.randint(1, 9) if pool is not CJK else rng.randint(1, 4)
                w = "".join(rng.choice(pool) for _ in range(n))
                if pool is DEVANAGARI and rng.random() < 0.7:
                    w += rng.choice(DEVANAGARI_SIGNS)
                words.append(w)
            self.lexicon[id(pool)] = words

    def word(self):
        rng = self.rng
        r = rng.random()
        if r < 0.04:
            return rng.choice(EMOJI) if rng.random() < 0.7 else rng.choice(EMOJI_SEQ)
        if r < 0.07:
            return rng.choice(LIGATURES) + rng.choice(self.lexicon[id(LATIN)])
        if r < 0.12:
            return "".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 6)))
        if r < 0.16:
            return rng.choice(PUNCT)
        pool = rng.choices([p for p, _ in SCRIPTS], weights=[w for _, w in SCRIPTS])[0]
        w = rng.choice(self.lexicon[id(pool)])
        if pool is LATIN and rng.random() < 0.08:
            i = rng.randint(1, len(w))
            w = w[:i] + rng.choice(COMBINING) + w[i:]
        return w

    def sentence(self, max_words=20, odd=0.0):
        rng = self.rng
        parts = []
        for _ in range(rng.randint(1, max_words)):
            if parts:
                parts.append(rng.choice(SPACES) if rng.random() < 0.15 else " ")
            if rng.random() < odd:
                parts.append("".join(rng.choice(RARE) for _ in range(rng.randint(1, 3))))
            else:
                parts.append(self.word())
        return "".join(parts)


def edge_cases(gen):
    rng = gen.rng
    cases = ["", " ", "   ", "\t", "\u3000", "\u00a0 \u3000\t", "\n\n", "▁", "▁▁ ▁", " ▁a▁ ",
             "a", "A", "ﬁ", "ﬁﬁﬁ", "，", "０１２", "Ｈｅｌｌｏ，　Ｗｏｒｌｄ！", "x" * 600, "ab" * 400,
             "世界" * 200, " " * 300 + "a" + " " * 300, "\u200b", "\u200b\u200b a", "\ufeffhello",
             "\U00020000\U00020001", "\ue000", "\x00", "a\x00b", "\U0010ffff", "e\u0301", "\u0301",
             "a\u0301\u0302\u0303", "😀", "👨\u200d👩\u200d👧", "🇫🇷🇩🇪", "ﷺ", "㍻㎏", "①②③",
             "<unk>", "<s>", "</s>", "<pad>", "\u2047", "\ufffd", "\ufffd\ufffd",
             "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留",
             "A cat walks on the grass, realistic style.", "  multiple   spaces   here  ",
             "<sep>", "a<sep>b <sep><sep>", "ab c ab  c abc", "★★★ ★", "ззз з", "▁the the▁the",
             "ﬁ ﬁne ﬁﬁ", "<ctl>", "<0x41>"]
    cases += ["".join(rng.choice(RARE) for _ in range(n)) for n in range(1, 30)]
    cases += [" ".join(rng.choice(RARE) for _ in range(n)) for n in range(1, 10)]
    return cases


def random_unicode(rng, n):
    out = []
    for _ in range(n):
        while True:
            c = rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0x2fff), rng.randint(0x3000, 0xffef),
                            rng.randint(0x10000, 0x10ffff)])
            if not 0xd800 <= c <= 0xdfff:
                break
        out.append(chr(c))
    return "".join(out)


def invalid_utf8(rng):
    base = rng.choice(["abc", "héllo", "世界", "", " x "]).encode()
    junk = bytes(rng.choice([0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xf8, 0xfe, 0xff,
                             rng.randint(0, 255)]) for _ in range(rng.randint(1, 4)))
    i = rng.randint(0, len(base))
    return base[:i] + junk + base[i:]


def train(lines, **options):
    f = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=f, model_type="unigram",
                                   num_threads=2, minloglevel=2, hard_vocab_limit=False, **options)
    return f.getvalue()


def write_cases(path, sp, texts):
    with open(path, "wb") as out:
        out.write(b"RLSPMT1\n")
        out.write(struct.pack("<I", len(texts)))
        for text in texts:
            raw = text if isinstance(text, bytes) else text.encode("utf-8")
            ids = sp.encode(text)
            # The package's normalizer takes str: bytes that are not UTF-8 are
            # checked by their ids only (the C test skips their normalization).
            try:
                as_str = text.decode("utf-8") if isinstance(text, bytes) else text
            except UnicodeDecodeError:
                as_str = ""
            norm = sp.normalize(as_str).encode("utf-8")
            out.write(struct.pack("<I", len(raw)) + raw)
            out.write(struct.pack("<I", len(norm)) + norm)
            out.write(struct.pack("<I", len(ids)) + struct.pack("<%di" % len(ids), *ids))


def test_strings(gen, count):
    rng = gen.rng
    texts = edge_cases(gen)
    seen = set(texts)
    while len(texts) < count:
        r = rng.random()
        if r < 0.55:
            t = gen.sentence(max_words=25, odd=0.03)
        elif r < 0.75:
            t = gen.sentence(max_words=4, odd=0.15)
        elif r < 0.85:
            t = random_unicode(rng, rng.randint(1, 12))
        elif r < 0.93:
            s = gen.sentence(max_words=30)
            i, j = sorted(rng.randint(0, len(s)) for _ in range(2))
            t = s[i:j]
        elif r < 0.97:
            t = invalid_utf8(rng)
        else:
            t = rng.choice(SPACES) * rng.randint(1, 5) + gen.sentence(max_words=3) + rng.choice(SPACES) * 3
        if t not in seen:
            seen.add(t)
            texts.append(t)
    return texts


def main():
    out_dir, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    gen = Gen(rng)
    start = time.time()

    corpus = [gen.sentence(max_words=40, odd=0.002) for _ in range(12000)]
    corpus_set = set(corpus)
    umt5like = train(corpus, vocab_size=6000, normalization_rule_name="nmt_nfkc",
                     character_coverage=0.9995, byte_fallback=False)
    bytefb = train(corpus[:3000], vocab_size=2600, normalization_rule_name="nmt_nfkc",
                   byte_fallback=True, add_dummy_prefix=False, remove_extra_whitespaces=False,
                   user_defined_symbols=["<sep>", "ab c", "★★", "зз", "▁the"], control_symbols=["<ctl>"],
                   character_coverage=0.995)
    suffix = train(corpus[:3000], vocab_size=2600, normalization_rule_name="identity",
                   treat_whitespace_as_suffix=True, character_coverage=0.998,
                   user_defined_symbols=["ﬁ"])

    for name, model, count in (("umt5like", umt5like, 10500), ("bytefb", bytefb, 2000),
                               ("suffix", suffix, 1000)):
        with open(f"{out_dir}/{name}.model", "wb") as f:
            f.write(model)
        sp = spm.SentencePieceProcessor(model_proto=model)
        texts = [t for t in test_strings(gen, count) if t not in corpus_set]
        write_cases(f"{out_dir}/{name}.cases", sp, texts)
    print(f"# sentencepiece {spm.__version__}: 3 models and cases in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
