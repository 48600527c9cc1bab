"""Drives `vmmu boot --arch x86_64` through a pseudo-terminal as a person
would: waits for the 64-bit busybox shell's prompt, asks for the machine,
some arithmetic and the CPU's flags as the kernel saw them, then quits with
Ctrl-a x and reads the summary. Each answer is looked for only in what
arrived after its command was typed. Prints one JSON line with what it saw;
the vitest test (console-x86_64.test.ts) judges it.

With VMMU_QUIT_AT_PROMPT=1 it types nothing and quits as soon as the prompt
is there: the summary's instruction count is then the boot's to the prompt
(docs/bench.md), give or take the one 25 ms slice in which Ctrl-a x is
read, during which the guest idles at the prompt."""
import json, os, pty, re, resource, select, sys, time

PROMPT = b'vmmu:/root# '

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
seen = b''
events = {}
start = time.time()


def wait_for(pattern, timeout, since=0):
    """Reads until `pattern` (bytes or a compiled regex) is in seen[since:]."""
    global seen
    end = time.time() + timeout
    found = lambda: (pattern.search(seen, since) is not None) if hasattr(pattern, 'search') else (seen.find(pattern, since) >= 0)
    if found():
        return True
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
        if found():
            return True
    return False


def command(keys, answer, timeout=300):
    """Types `keys`, waits for `answer` after them, then for the next prompt."""
    mark = len(seen)
    os.write(fd, keys)
    ok = wait_for(answer, timeout, mark)
    wait_for(PROMPT, timeout, mark)
    return ok, seen[mark:]


events['prompt'] = wait_for(PROMPT, 1500)
events['promptSeconds'] = round(time.time() - start, 1)
events['banner'] = seen.split(b'\n', 1)[0].decode('latin1').strip()
# the status line's last count before the prompt (drawn while the guest is silent, when CI is unset)
counts = re.findall(rb'vmmu: ([\d.]+)M instructions', seen[:seen.find(PROMPT)])
events['statusInstructionsBeforePrompt'] = round(float(counts[-1]) * 1e6) if counts else None
if os.environ.get('VMMU_QUIT_AT_PROMPT') != '1':
    events['uname'], _ = command(b'uname -m\r', re.compile(rb'\nx86_64\r'))
    events['arithmetic'], _ = command(b'echo $((6*7))\r', re.compile(rb'\n42\r'))
    ok, out = command(b'cat /proc/cpuinfo | grep flags\r', re.compile(rb'\nflags\s*:[^\r\n]*\r'))
    m = re.search(rb'\nflags\s*:([^\r\n]*)', out)
    events['cpuFlags'] = m.group(1).decode('latin1').split() if ok and m else None
mark = len(seen)
os.write(fd, b'\x01x')
events['quitSaid'] = wait_for(b'quit from the console (Ctrl-a x); the guest was still running', 60, mark)
status = None
for _ in range(300):
    done, code = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(code)
        break
    wait_for(b'\0', 0.1)  # keep reading, so the summary never fills the terminal's buffer
    time.sleep(0.1)
events['exitCode'] = status
events['seconds'] = round(time.time() - start, 1)
# the whole command's CPU time (user and system), the machine's and everything else's
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
events['processCpuSeconds'] = round(usage.ru_utime + usage.ru_stime, 1)
summary = re.search(rb'instructions (\d+), ([\d.]+) s(?: \(the CPU ran ([\d.]+) s of it\))?', seen)
events['instructions'] = int(summary.group(1)) if summary else None
events['cpuSeconds'] = float(summary.group(3) or summary.group(2)) if summary else None
events['tail'] = seen.decode('latin1')[-600:]
print(json.dumps(events))
