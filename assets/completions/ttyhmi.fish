# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ttyhmi_global_optspecs
    string join \n h/help V/version
end

function __fish_ttyhmi_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ttyhmi_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ttyhmi_using_subcommand
    set -l cmd (__fish_ttyhmi_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -s V -l version -d 'Print version'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "run" -d 'Run the console on a layout file'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "serve" -d 'Run one console server for many operators: one plant, a session per SSH login or attach'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "attach" -d 'Connect this terminal to a running console server through its local socket'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "sessions" -d 'List who is connected to a running console server (from its local socket)'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "passwd" -d 'Set a user\'s role and PIN in the users file (the PIN is asked twice, not shown); run as root'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "whoami" -d 'Show who you are to the console, your role, where the role comes from, and how to get one'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "audit" -d 'The audit log: check its chain, or show its last records'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "gateway" -d 'Publish a layout\'s PLCs to an MQTT broker as a Sparkplug B edge node (the `publish:` block)'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "key" -d 'Print this installation\'s command key (public half, one line) for a gateway\'s consoles file'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "demo" -d 'Start the simulated plant on loopback and run the console on it (layouts/demo.yaml)'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "sim" -d 'Run the simulated plant alone, for other consoles and tools; stops on Ctrl-C'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "check" -d 'Check layout files; print every problem; exit 1 if any file has one'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "watch" -d 'Poll a layout\'s tags without a terminal UI: one line per value change, a summary at the end'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "schema" -d 'Print the JSON schema of the layout format'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "completions" -d 'Print shell completions (bash, zsh, fish, elvish, powershell)'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "man" -d 'Print the manual page (roff), with every subcommand and option'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "ports" -d 'List the serial ports of this machine (path, USB vendor:product), to find the adapter'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "browse" -d 'Walk an OPC UA server\'s address space; print connections + tags ready to paste into a layout'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "trust" -d 'Trust an OPC UA server\'s certificate after showing it: without CERT, list the rejected ones'
complete -c ttyhmi -n "__fish_ttyhmi_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand run" -l users -d 'The users file roles come from (default /etc/ttyhmi/users.yaml); it must be owned by root' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand run" -l audit -d 'The audit log (default: audit.jsonl in the state folder)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand run" -l journal -d 'The alarm journal (default: alarms/<layout name>.jsonl in the state folder)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand run" -l read-only -d 'Monitoring only: nothing can be written to any device'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand run" -l no-color -d 'No colour (also when the NO_COLOR environment variable is set)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand run" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand serve" -l ssh -d 'Listen for SSH logins on ADDR:PORT (public keys from the users file only)' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand serve" -l host-key -d 'The SSH host key (default: ssh_host_ed25519_key in the state folder, made on first start)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand serve" -l users -d 'The users file: roles, PINs and SSH keys (default /etc/ttyhmi/users.yaml)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand serve" -l audit -d 'The audit log (default: audit.jsonl in the state folder)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand serve" -l journal -d 'The alarm journal (default: alarms/<layout name>.jsonl in the state folder)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand serve" -l socket -d 'The attach socket (default /run/ttyhmi/console.sock if /run/ttyhmi exists, else console.sock in the state folder)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand serve" -l idle-logout -d 'Log a session out after this long without a key: 30s, 15m, 8h (default: never)' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand serve" -l no-socket -d 'No attach socket: SSH only'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand serve" -l read-only -d 'Monitoring only: no session can write to any device'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand serve" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand attach" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand sessions" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand passwd" -l role -d 'Also set the user\'s role: viewer, operator, engineer or admin' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand passwd" -l users -d 'The users file to change (default /etc/ttyhmi/users.yaml)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand passwd" -l role-only -d 'Set only the role (with --role): ask for no PIN, keep the user\'s PIN as it is'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand passwd" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand whoami" -l users -d 'The users file roles come from (default /etc/ttyhmi/users.yaml), as for `run`' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand whoami" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand audit; and not __fish_seen_subcommand_from verify tail help" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand audit; and not __fish_seen_subcommand_from verify tail help" -f -a "verify" -d 'Check the hash chain and the head file; report the first break. Exit 1 if broken'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand audit; and not __fish_seen_subcommand_from verify tail help" -f -a "tail" -d 'Print the last records readably'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand audit; and not __fish_seen_subcommand_from verify tail help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand audit; and __fish_seen_subcommand_from tail" -s n -l lines -d 'How many records to print' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand audit; and __fish_seen_subcommand_from tail" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the hash chain and the head file; report the first break. Exit 1 if broken'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "tail" -d 'Print the last records readably'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand gateway" -l consoles -d 'The consoles whose signed commands are taken: `name: { key: "ttyhmi-ed25519 …", max_role: operator }` (without it, every command is refused)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand gateway" -l audit -d 'The audit log (default: audit.jsonl in the state folder)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand gateway" -l journal -d 'The alarm journal (default: alarms/<layout name>.jsonl in the state folder)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand gateway" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand key" -l file -d 'The key file (default: command_key in the state folder, made on first use)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand key" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand demo" -l read-only -d 'Monitoring only: nothing can be written, not even to the simulated plant'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand demo" -l no-color -d 'No colour (also when the NO_COLOR environment variable is set)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand demo" -l mqtt -d 'Through MQTT: an in-process broker, a Sparkplug B gateway polling the simulated plant, and the console reading the broker (layouts/sparkplug-console.yaml)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand demo" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand sim" -l modbus-port -d 'Modbus TCP port (0 picks a free one; it is printed)' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand sim" -l opcua-port -d 'OPC UA port (0 picks a free one; it is printed)' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand sim" -l opcua-load -d 'OPC UA load variables (Plant.Load.V0000…), each changing every 100 ms' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand sim" -l rtu-over-tcp-port -d 'Also serve Modbus RTU over TCP (as a serial gateway would) on this port (0 picks one)' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand sim" -l rtu -d 'Also serve Modbus RTU on this serial port or pseudo-terminal (e.g. /dev/ttyUSB1, or one end of `socat -d -d pty,raw,echo=0 pty,raw,echo=0`)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand sim" -l baud -d 'Serial speed for --rtu' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand sim" -l parity -d 'Serial parity for --rtu: none, even or odd' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand sim" -l rtu-units -d 'Units on the --rtu bus, e.g. 1,2,7 or 1-10 (default 1-247); requests to others go unanswered' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand sim" -l bind -d 'Address to listen on. The simulator has no access control: keep it on loopback' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand sim" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand check" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand watch" -l for -d 'Stop after this long (e.g. 10s, 2m); default: until Ctrl-C' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand watch" -l poll -d 'Poll every tag at this period instead of the layout\'s; 0s polls back to back (for measuring)' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand watch" -l json -d 'One JSON object per line'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand watch" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand schema" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand completions" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand man" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand ports" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand browse" -l root -d 'Start here (a NodeId, e.g. "ns=2;s=Plant"); default the Objects folder' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand browse" -l depth -d 'Levels below the root to walk' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand browse" -l security -d '`none`, or POLICY/MODE such as Basic256Sha256/SignAndEncrypt (the default)' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand browse" -l user -d 'User name (with --password-file or --password-env); default anonymous' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand browse" -l password-file -d 'A file holding the user\'s password (only its first line is used)' -r -F
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand browse" -l password-env -d 'An environment variable holding the user\'s password' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand browse" -l name -d 'Name of the connection in the output' -r
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand browse" -l accept-host-name-mismatch -d 'Accept the server\'s (trusted) certificate although it does not name the endpoint\'s host, as the layout key `accept_host_name_mismatch: true` does (written into the output)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand browse" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand trust" -l yes -d 'Trust it without asking (needed without a terminal)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand trust" -s h -l help -d 'Print help'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "run" -d 'Run the console on a layout file'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "serve" -d 'Run one console server for many operators: one plant, a session per SSH login or attach'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "attach" -d 'Connect this terminal to a running console server through its local socket'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "sessions" -d 'List who is connected to a running console server (from its local socket)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "passwd" -d 'Set a user\'s role and PIN in the users file (the PIN is asked twice, not shown); run as root'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "whoami" -d 'Show who you are to the console, your role, where the role comes from, and how to get one'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "audit" -d 'The audit log: check its chain, or show its last records'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "gateway" -d 'Publish a layout\'s PLCs to an MQTT broker as a Sparkplug B edge node (the `publish:` block)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "key" -d 'Print this installation\'s command key (public half, one line) for a gateway\'s consoles file'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "demo" -d 'Start the simulated plant on loopback and run the console on it (layouts/demo.yaml)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "sim" -d 'Run the simulated plant alone, for other consoles and tools; stops on Ctrl-C'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "check" -d 'Check layout files; print every problem; exit 1 if any file has one'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "watch" -d 'Poll a layout\'s tags without a terminal UI: one line per value change, a summary at the end'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "schema" -d 'Print the JSON schema of the layout format'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "completions" -d 'Print shell completions (bash, zsh, fish, elvish, powershell)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "man" -d 'Print the manual page (roff), with every subcommand and option'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "ports" -d 'List the serial ports of this machine (path, USB vendor:product), to find the adapter'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "browse" -d 'Walk an OPC UA server\'s address space; print connections + tags ready to paste into a layout'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "trust" -d 'Trust an OPC UA server\'s certificate after showing it: without CERT, list the rejected ones'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and not __fish_seen_subcommand_from run serve attach sessions passwd whoami audit gateway key demo sim check watch schema completions man ports browse trust help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Check the hash chain and the head file; report the first break. Exit 1 if broken'
complete -c ttyhmi -n "__fish_ttyhmi_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "tail" -d 'Print the last records readably'
