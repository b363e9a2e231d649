"""Independent reference of LiveProof challenge-plan derivation v1 (core/src/active/plan.rs),
as a server would recompute it: SHA-256 counter mode, little-endian u64, rejection sampling.
The known answers pinned in core/src/active/plan/tests.rs were printed by this script."""
import hashlib, struct
DOMAIN=b"liveproof/challenge-plan/v1"
ACTIONS=["BLINK","TURN_LEFT","TURN_RIGHT","NOD","SMILE"]
class Stream:
    def __init__(s, seed): s.seed=seed; s.c=0; s.buf=b""; 
    def u64(s):
        if len(s.buf)<8:
            s.buf=hashlib.sha256(DOMAIN+s.seed+struct.pack("<I",s.c)).digest(); s.c+=1
        x=struct.unpack("<Q",s.buf[:8])[0]; s.buf=s.buf[8:]; return x
    def uniform(s,n):
        zone=(n*((2**64-1)//n)) % 2**64
        while True:
            x=s.u64()
            if x<zone: return x%n
def plan(seed, allowed=ACTIONS, mn=2, mx=3):
    s=Stream(seed); count=mn+s.uniform(mx-mn+1); out=[]
    for _ in range(count):
        ch=[a for a in allowed if not out or a!=out[-1]]
        out.append(ch[s.uniform(len(ch))])
    return out
print(plan(bytes(32)))
print(plan(bytes(range(32))))
print(plan(bytes(range(32)), mn=4, mx=4))
print(plan(bytes([0xab]*32), allowed=["BLINK","SMILE"], mn=1, mx=4))
