#!/bin/bash
# Memory of `ttyhmi run` on 1,000 live OPC UA tags (each changing every 100 ms), in tmux at
# 160x48: VmRSS and what holds it (the mappings of /proc/PID/smaps), after WAIT seconds (40).
# Needs tmux. Usage: cargo build --release && tools/rss_run.sh   (EXE=path to try another binary;
# RUNENV="MALLOC_ARENA_MAX=2" to try an environment)
EXE=${EXE:-$(cd "$(dirname "$0")/.." && pwd)/target/release/ttyhmi}
H=$(mktemp -d); export XDG_DATA_HOME=$H XDG_STATE_HOME=$H
$EXE sim --modbus-port 0 --opcua-port 0 --opcua-load 1000 > $H/sim.out 2>&1 &
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
tmux kill-session -t rss; kill $SIM; rm -rf $H
