#!/usr/bin/env python3
"""A model of the barrier protocol of plugins/attention/sage/sage-kernel.cu's
attention kernel: the producer thread (Q double buffer, K/V ring of kStages
stages, resident ring for 2..kStages key tiles), the two consumer warpgroups
(ping-pong stream of turns, or in order, consumer 1 lagging 0..3 units),
mbarrier phases with try_wait.parity semantics, and the three named barriers. Random interleavings (and random
completion order of the bulk copies) of many block/grid/length cases; fails
on a deadlock or when a consumer reads a stage, Q buffer or row slot that
does not hold what it expects. It mirrors the kernel by hand: change both together.
It found that a resident ring of one key tile deadlocks (a turn's S and the
previous tile's P·V would need the same stage), and that the row scales and
shifts that come with each tile's Q need four slots (with two or three a store
reads a slot already refilled for a later tile).

    python3 tests/attention/sage-ring-protocol.py     (exit 1 on a failure)
"""
import random
import sys
K_STAGES = 4
K_ROW_SLOTS = 4   # kRowSlots: the Q tiles' row scales and shifts, loaded with their Q

class MBar:
    def __init__(s, count): s.count, s.pending, s.phase, s.tx = count, count, 0, 0
    def arrive(s):
        s.pending -= 1; s._check()
    def expect(s, tx): s.tx += tx; s.pending -= 1; s._check()
    def complete_tx(s, tx): s.tx -= tx; s._check()
    def _check(s):
        if s.pending == 0 and s.tx == 0:
            s.phase += 1; s.pending = s.count
    def ready(s, parity): return (s.phase & 1) != parity

class NamedBar:
    def __init__(s): s.credits = 0

K_SPLIT_MIN_KEY_TILES = 4
K_SPLIT_MAX_PARTS = 16

def block_tiles(total, key_tiles, blocks, block, resident_mode, split_mode=True):
    resident = resident_mode and 2 <= key_tiles <= K_STAGES
    split_n, split_tile, split_first, split_keys = -1, 0, 0, 0
    if resident:
        per, extra = divmod(total, blocks)
        first = block * per + min(block, extra); count = per + (1 if block < extra else 0); stride = 1
    else:
        first = block; count = (total - block + blocks - 1) // blocks; stride = blocks
        # The last round's tiles split along the keys (BlockTiles).
        rounds, rest = divmod(total, blocks)
        most = min(blocks // rest, key_tiles // K_SPLIT_MIN_KEY_TILES, K_SPLIT_MAX_PARTS) if rest > 0 and split_mode else 0
        if most >= 2:
            count = rounds + (1 if block < rest * most else 0)
            if block < rest * most:
                part = block // rest
                split_n, split_tile = rounds, rounds * blocks + block % rest
                split_first = part * key_tiles // most
                split_keys = (part + 1) * key_tiles // most - split_first
    slots = K_STAGES if resident else key_tiles
    return dict(first=first, count=count, stride=stride, resident=resident, slots=slots,
                tile=lambda n: split_tile if n == split_n else first + n * stride,
                slot=lambda n, t: n * slots + t,
                keys=lambda n: split_keys if n == split_n else key_tiles,
                key=lambda n, t: split_first + t if n == split_n else t,
                split_n=split_n)

def run(q_tiles, heads, key_tiles, blocks, block, resident_mode, seed, ping_pong=True, lag=0):
    rnd = random.Random(seed)
    total = q_tiles * heads
    T = block_tiles(total, key_tiles, blocks, block, resident_mode)
    full = [MBar(1) for _ in range(K_STAGES)]; empty = [MBar(2) for _ in range(K_STAGES)]
    q_full = [MBar(1) for _ in range(2)]; q_empty = [MBar(2) for _ in range(2)]
    named = {1: NamedBar(), 2: NamedBar(), 3: NamedBar()}
    stage_k = [None] * K_STAGES; stage_v = [None] * K_STAGES; qbuf = [None, None]
    rows = [None] * K_ROW_SLOTS
    inflight = []   # pending copies: (bar, tx, apply)
    copies = [0]
    def producer():
        prev = -1
        for n in range(T['count']):
            tile = T['tile'](n); bh = tile // q_tiles
            buf, use = n & 1, n >> 1
            if use > 0:
                yield lambda: q_empty[buf].ready((use - 1) & 1)
            q_full[buf].expect(2)
            inflight.append((q_full[buf], 1, lambda buf=buf, tile=tile: qbuf.__setitem__(buf, tile)))
            inflight.append((q_full[buf], 1, lambda n=n, tile=tile: rows.__setitem__(n % K_ROW_SLOTS, tile)))
            kept = T['resident'] and bh == prev; prev = bh
            for t in range(T['keys'](n)):
                kt = T['key'](n, t)
                slot = T['slot'](n, t); s = slot % K_STAGES
                if slot >= K_STAGES:
                    yield lambda s=s, slot=slot: empty[s].ready(((slot // K_STAGES) - 1) & 1)
                if kept:
                    assert stage_k[s] == (bh, kt) and stage_v[s] == (bh, kt), ("kept stage holds", stage_k[s], (bh, kt))
                    full[s].arrive(); continue
                full[s].expect(2); copies[0] += 1
                inflight.append((full[s], 1, lambda s=s, bh=bh, kt=kt: stage_k.__setitem__(s, (bh, kt))))
                inflight.append((full[s], 1, lambda s=s, bh=bh, kt=kt: stage_v.__setitem__(s, (bh, kt))))
    def consumer_in_order(c):
        # Consumer 1 starts once consumer 0 has run `lag` units of its first
        # tile (named barrier 3, kLagBarrier).
        lead = min(lag, 3 if clamp_lag else lag) if T['count'] > 0 else 0
        lead_units = min(lead, T['keys'](0)) if lead > 0 else 0
        if lead > 0 and c == 1:
            yield lambda: named[3].credits > 0
            named[3].credits -= 1
        elif lead > 0 and lead_units == 0:
            named[3].credits += 1
        for n in range(T['count']):
            yield lambda n=n: q_full[n & 1].ready((n >> 1) & 1)
            assert qbuf[n & 1] == T['tile'](n)
            assert rows[n % K_ROW_SLOTS] == T['tile'](n), ("in-order row scales", n)
            bh = T['tile'](n) // q_tiles
            for t in range(T['keys'](n)):
                slot = T['slot'](n, t); ss = slot % K_STAGES; kt = T['key'](n, t)
                yield lambda ss=ss, slot=slot: full[ss].ready((slot // K_STAGES) & 1)
                assert stage_k[ss] == (bh, kt) and stage_v[ss] == (bh, kt), ("in-order reads", n, t)
                yield lambda: True   # S, softmax, P·V
                empty[ss].arrive()
                if c == 0 and n == 0 and t + 1 == lead_units:
                    named[3].credits += 1
            q_empty[n & 1].arrive()
            yield lambda: True   # the store
            assert rows[n % K_ROW_SLOTS] == T['tile'](n), ("in-order store's row shifts", n)
    def consumer(c):
        if not ping_pong:
            yield from consumer_in_order(c)
            return
        mine, other = 1 + c, 2 - c
        # The stream of units (tile n, key tile t) in order; turn u issues
        # S of unit u with P·V of unit u − 1.
        stream = [(n, t) for n in range(T['count']) for t in range(T['keys'](n))]
        units = len(stream)
        if c == 1: named[1].credits += 1
        for u in range(units + 1):
            scores, values = u < units, u > 0
            n, t = stream[u] if scores else (0, 0)
            s_slot = T['slot'](n, t) if scores else 0
            pn, pt = stream[u - 1] if values else (0, 0)
            v_slot = T['slot'](pn, pt) if values else 0
            if scores and t == 0:
                yield lambda n=n: q_full[n & 1].ready((n >> 1) & 1)
                assert qbuf[n & 1] == T['tile'](n), ("Q", qbuf[n & 1], T['tile'](n))
                assert rows[n % K_ROW_SLOTS] == T['tile'](n), ("row scales", n)
            if scores:
                ss = s_slot % K_STAGES
                yield lambda ss=ss, s_slot=s_slot: full[ss].ready((s_slot // K_STAGES) & 1)
            yield lambda: named[mine].credits > 0
            named[mine].credits -= 1
            if scores:
                bh = T['tile'](n) // q_tiles
                assert stage_k[s_slot % K_STAGES] == (bh, T['key'](n, t)), ("S reads", stage_k[s_slot % K_STAGES], (bh, t), u)
                assert qbuf[n & 1] == T['tile'](n)
            if values:
                assert stage_v[v_slot % K_STAGES] == (T['tile'](pn) // q_tiles, T['key'](pn, pt)), ("PV reads", u)
            if scores or c == 0: named[other].credits += 1
            yield lambda: True   # MMAs complete (any interleaving)
            if scores and t == T['keys'](n) - 1: q_empty[n & 1].arrive()
            if values: empty[v_slot % K_STAGES].arrive()
            if values and pt == T['keys'](pn) - 1:
                yield lambda: True   # the softmax of S(u) first, then tile pn's store
                assert rows[pn % K_ROW_SLOTS] == T['tile'](pn), ("store's row shifts", pn, rows[pn % K_ROW_SLOTS])
    procs = [producer(), consumer(0), consumer(1)]
    waits = [None, None, None]; done = [False] * 3
    steps = 0
    while not all(done):
        steps += 1
        cand = [i for i in range(3) if not done[i] and (waits[i] is None or waits[i]())]
        if inflight and (not cand or rnd.random() < 0.3):
            bar, tx, apply = inflight.pop(rnd.randrange(len(inflight))); apply(); bar.complete_tx(tx); continue
        if not cand:
            return f"DEADLOCK after {steps} steps (waits {[w is not None for w in waits]}, done {done})"
        i = rnd.choice(cand)
        try:
            waits[i] = next(procs[i])
        except StopIteration:
            done[i] = True; waits[i] = None
    assert all(b.credits == 0 for b in named.values()), ("named credits left", [b.credits for b in named.values()])
    return f"ok ({copies[0]} K/V copies for {T['count']} tiles x {key_tiles} key tiles{', last split' if T['split_n'] >= 0 else ''})"

clamp_lag = True   # the kernel clamps the lag to 0..3
bad = 0
for ping_pong, lag in ((True, 0), (False, 0), (False, 2), (False, 3)):
  for resident_mode in (False, True):
    for key_tiles in (1, 2, 3, 4, 5, 9, 37):
        for q_tiles, heads, blocks in ((5, 3, 4), (37, 2, 7), (3, 4, 5), (256, 2, 13)):
            total = q_tiles * heads
            for block in sorted({0, blocks - 1, blocks // 2}):
                if block >= total: continue
                for seed in range(3):
                    try:
                        r = run(q_tiles, heads, key_tiles, blocks, block, resident_mode, seed, ping_pong, lag)
                    except AssertionError as e:
                        r = f"ASSERT {e}"
                    if not r.startswith("ok"):
                        bad += 1; print(ping_pong, lag, resident_mode, key_tiles, q_tiles, heads, blocks, block, seed, r)
print("# H 12, L 32760, 512 keys, block 5 of 132: resident", run(256, 12, 4, 132, 5, True, 1),
      "| round-robin", run(256, 12, 4, 132, 5, False, 1))
# Every split tile's runs cover its key tiles once (H 12 × 4680 on 132 SMs: 48 tiles in 2 runs).
for total, key_tiles, blocks in ((444, 37, 132), (1480, 37, 132), (3072, 256, 132), (5 * 3, 9, 4), (23640, 591, 132),
                                 (133, 591, 132)):
    covered = {}
    for block in range(blocks):
        T = block_tiles(total, key_tiles, blocks, block, False)
        for n in range(T['count']):
            for t in range(T['keys'](n)):
                covered.setdefault(T['tile'](n), []).append(T['key'](n, t))
    wrong = [tile for tile in range(total) if sorted(covered.get(tile, [])) != list(range(key_tiles))]
    if wrong:
        bad += 1; print("split coverage", total, key_tiles, blocks, "tiles", wrong[:5])
print("# H 12 × 4680, block 5 of 132:", run(37, 12, 37, 132, 5, False, 1), "| block 100:", run(37, 12, 37, 132, 100, False, 1))
# Why the kernel clamps the lag: consumer 0 can run ahead of consumer 1 only
# as far as the ring reaches (kStages units), so a lag of 5 must deadlock.
clamp_lag = False
unclamped = run(37, 12, 37, 132, 5, False, 1, False, 5)
if not unclamped.startswith("DEADLOCK"):
    bad += 1; print("a lag of 5 units did not deadlock:", unclamped)
print("# in order, lag 5 (unclamped):", unclamped)
print("failures:", bad)
sys.exit(1 if bad else 0)
