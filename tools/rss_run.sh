#!/bin/bash
# Memory of `ttyhmi run` on 1,000 live OPC UA tags (each changing every 100 ms), in tmux at
# 160x48: VmRSS and what holds it (the mappings of /proc/PID/smaps), after WAIT seconds (40).
# Needs tmux. Usage: cargo build --release && tools/rss_run.sh   (EXE=path to try another binary;
# RUNENV="MALLOC_ARENA_MAX=2" to try an environment; SIM_EXE=a binary with the simulated plant
# when EXE is one without it, as the Debian package's: `cargo build --release --no-default-features`)
EXE=${EXE:-$(cd "$(dirname "$0")/.." && pwd)/target/release/ttyhmi}
SIM_EXE=${SIM_EXE:-$EXE}
H=$(mktemp -d); export XDG_DATA_HOME=$H XDG_STATE_HOME=$H
$SIM_EXE sim --modbus-port 0 --opcua-port 0 --opcua-load 1000 > $H/sim.out 2>&1 &
SIM=$!
sleep 4
URL=$(grep -o 'opc.tcp://[^ ]*' $H/sim.out | head -1)
CERT=$(sed -n 's/^ *server certificate: \([^ ]*\).*/\1/p' $H/sim.out | head -1 | cut -d' ' -f1)
$EXE trust --yes "$CERT" >/dev/null 2>&1 || echo "trust failed: $CERT"
python3 - "$URL" "$H/load.yaml" <<'PY'
import sys
url, path = sys.argv[1], sys.argv[2]
s = f'title: OPC UA load\nconnections:\n  sim:\n    opcua: {{ endpoint: "{url}", security: none }}\n    publishing_interval: 100ms\ntags:\n'
for i in range(1000):
    s += f'  V{i:04}: {{ source: sim, node: "nsu=urn:ttyhmi:sim;s=Plant.Load.V{i:04}", sampling: 50ms, queue_size: 5 }}\n'
open(path, 'w').write(s)
PY
tmux kill-session -t rss 2>/dev/null
tmux new -d -s rss -x 160 -y 48 "env $RUNENV XDG_DATA_HOME=$H XDG_STATE_HOME=$H $EXE run $H/load.yaml"
sleep ${WAIT:-40}
PID=$(pgrep -f "^$EXE run $H/load.yaml" | head -1)
tmux capture-pane -p -t rss | head -8
grep -E "VmRSS|VmHWM|Threads" /proc/$PID/status
awk '/^[0-9a-f]+-[0-9a-f]+ /{name=$6; if(name=="")name="[anon]"} /^Rss:/{r[name]+=$2} END{for(n in r) if(r[n]>200) printf "%8d kB %s\n", r[n], n}' /proc/$PID/smaps | sort -rn | head -12
# DETAIL=1: the anonymous mappings (malloc arenas, thread stacks) one by one.
[ -n "$DETAIL" ] && python3 - /proc/$PID/smaps <<'PY'
import re, sys
rows, size, name = [], 0, None
for line in open(sys.argv[1]):
    m = re.match(r'([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)', line)
    if m:
        size, name = (int(m[2], 16) - int(m[1], 16)) // 1024, m[3].strip()
    elif line.startswith('Rss:') and not name and int(line.split()[1]) > 100:
        rows.append((int(line.split()[1]), size))
for rss, size in sorted(rows, reverse=True)[:20]:
    print(f"{rss:8} kB of {size:8} kB anonymous")
PY
tmux kill-session -t rss; kill $SIM; rm -rf $H
