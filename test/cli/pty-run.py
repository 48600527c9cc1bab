"""Runs a command on a pseudo-terminal (standard input, output and error all
on it, as at a person's terminal) and prints one JSON line: everything the
terminal received (base64), the exit code, and whether it timed out.

usage: pty-run.py TIMEOUT_S STEPS_JSON COMMAND ARGS...
STEPS_JSON: [[pattern, keys, delay_s], ...]: once the output holds
`pattern` (latin-1), wait `delay_s` and type `keys` (latin-1)."""
import base64, json, os, pty, select, signal, sys, time

timeout = float(sys.argv[1])
steps = json.loads(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[3], sys.argv[3:])
seen = b''
start = time.time()
status = None
timed_out = False
while True:
    if time.time() - start > timeout:
        timed_out = True
        os.kill(pid, signal.SIGKILL)
        break
    if steps and steps[0][0].encode('latin-1') in seen:
        pattern, keys, delay = steps.pop(0)
        time.sleep(delay)
        os.write(fd, keys.encode('latin-1'))
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b''
        if data:
            seen += data
            continue
    done, code = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(code)
        # what is still in the terminal's buffer
        while True:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                break
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            seen += data
        break
if status is None and not timed_out:
    _, code = os.waitpid(pid, 0)
    status = os.waitstatus_to_exitcode(code)
print(json.dumps({'output': base64.b64encode(seen).decode(), 'exitCode': status, 'timedOut': timed_out, 'seconds': round(time.time() - start, 2)}))
