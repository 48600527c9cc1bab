"""Drives a command through a pseudo-terminal the way a person at a
terminal would: waits for the shell prompt, types commands (a mistake
corrected by backspace, another by moving the cursor), then quits with Ctrl-a x
and reads the summary. Prints one
JSON line with what it saw; the vitest test judges it."""
import json, os, pty, select, sys, time

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
seen = b''
events = {}
start = time.time()

def wait_for(pattern, timeout):
    global seen
    end = time.time() + timeout
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.25)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        seen += data
        if pattern in seen:
            return True
    return False

events['prompt'] = wait_for(b'vmmu:/root# ', 1500)
events['promptSeconds'] = round(time.time() - start, 1)
os.write(fd, b'echo hello $((6*7))\r')
events['arithmetic'] = wait_for(b'hello 42', 120)
os.write(fd, b'echo editx\x7fed\r')
events['lineEditing'] = wait_for(b'\nedited', 120)
# cursor left three times, insert a letter: "echo wrld" becomes "echo world"
os.write(fd, b'echo wrld\x1b[D\x1b[D\x1b[Do\r')
events['cursorKeys'] = wait_for(b'\nworld', 120)
os.write(fd, b'uname -m\r')
events['uname'] = wait_for(b'i686', 120)
# Ctrl-a Ctrl-a sends one Ctrl-a, which busybox's line editor takes as
# "to the start of the line": "cho caret" becomes "echo caret"
os.write(fd, b'cho caret\x01\x01e\r')
events['ctrlA'] = wait_for(b'\ncaret', 120)
os.write(fd, b'\x01h')
events['help'] = wait_for(b'C-a x    exit', 60)
os.write(fd, b'\x01x')
events['quitSaid'] = wait_for(b'quit from the console (Ctrl-a x); the guest was still running', 60)
status = None
for _ in range(300):
    done, code = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(code)
        break
    wait_for(b'\0', 0.1)  # keep reading, so the summary never fills the terminal's buffer
    time.sleep(0.1)  # once the terminal is closed, the read above returns at once
events['exitCode'] = status
events['tail'] = seen.decode('latin1')[-400:]
print(json.dumps(events))
