"""PhoneCore concurrent calls per core: N calls between two PhoneCores on rvoip_sansio.sim
(no trace), each end writing 20 ms of 16 kHz audio per tick and reading every frame
(8<->16 kHz resampling both ways); CPU time of the whole run (both cores + the simulated
network). calls per core = 2 ends x N x media seconds / CPU seconds."""
import os
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # BLAS spin threads cost 2-3x CPU here
import random, sys, time
import numpy as np
from rvoip_sansio.phone import IncomingCall, MediaSocketReleased, PhoneConfig, PhoneCore, SrtpMode
from rvoip_sansio.sdp import PCMU
from rvoip_sansio.sim import LinkConfig, MultiSocketNode, Network

def run(n, seconds, srtp):
    net = Network(seed=1, link=LinkConfig(delay=0.02), record_trace=False)
    cores = {}
    nodes = {}
    def app(name):
        def on(node, e, now):
            if isinstance(e, IncomingCall):
                cores[name].answer(e.call_id, now, rtp=nodes[name].bind())
        return on
    for name, addr in (("a", ("10.0.0.1", 5060)), ("b", ("10.0.0.2", 5060))):
        cores[name] = PhoneCore(config=PhoneConfig(user=name, local=addr, codecs=(PCMU,), srtp=srtp,
                                                   srtp_required=srtp is not SrtpMode.NONE, rtp_timeout=None),
                                rng=random.Random(1), key_rng=random.Random(2))
        nodes[name] = MultiSocketNode(net, name, addr, cores[name], on_event=app(name),
                                      first_port=40000 if name == "a" else 50000)
    ids = []
    for i in range(n):
        net.at(i * 0.001, lambda now: ids.append(cores["a"].call("sip:b@10.0.0.2", now, rtp=nodes["a"].bind())))
    net.run(until=1.0)
    assert len(cores["b"].calls) == n, len(cores["b"].calls)
    chunk = (3000 * np.sin(np.arange(320) / 5)).astype(np.int16)
    def feed(now):
        for c in cores.values():
            for cid in ids:
                c.write(cid, chunk)
                while c.read_frame(cid) is not None:
                    pass
        if now + 0.02 < 1.0 + seconds:
            net.at(now + 0.02, feed)
    net.at(1.0, feed)
    t0 = time.process_time()
    net.run(until=1.0 + seconds)
    cpu = time.process_time() - t0
    return 2 * n * seconds / cpu, cpu

for srtp in (SrtpMode.NONE, SrtpMode.SDES):
    best = max(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100, 5.0, srtp)[0] for _ in range(2))
    print(f"{srtp.value:5s} calls per core (both ends + sim): {best:6.0f}")
