"""The interview language kernels through the Jupyter protocol, against the real toolchains.

Kernels run unsandboxed here (their kernelspecs are copied without the sandbox provisioner), so these
tests cover the kernels alone; the sandbox's own tests run them inside bubblewrap.
"""

from __future__ import annotations

import json
import queue
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from interview_kernel.languages import LANGUAGES, check
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

SPECS = Path(__file__).resolve().parent.parent / "kernels" / "interview_kernel" / "specs"
NAMES = list(LANGUAGES)


@dataclass
class Run:
    reply: dict[str, Any]
    stdout: str = ""
    stderr: str = ""
    results: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)

    @property
    def error_text(self) -> str:
        return "\n".join(
            [self.reply.get("ename", ""), self.reply.get("evalue", ""), *self.reply.get("traceback", [])]
        )


class Session:
    def __init__(self, km: KernelManager, kc: BlockingKernelClient, started_s: float) -> None:
        self.km = km
        self.kc = kc
        self.started_s = started_s
        self.first_execution_s: float | None = None

    def run(
        self,
        code: str,
        inputs: list[str] | None = None,
        timeout: float = 60,
        interrupt_after: float | None = None,
        interrupt_on_input: bool = False,
    ) -> Run:
        """Executes code, answering input requests from `inputs` (then with an empty line, which ends the
        input), and optionally interrupts the kernel after some seconds or at its first input request."""
        t0 = time.monotonic()
        msg_id = self.kc.execute(code, allow_stdin=True, stop_on_error=False)
        timer = None
        if interrupt_after is not None:
            timer = threading.Timer(interrupt_after, self.km.interrupt_kernel)
            timer.start()
        pending = list(inputs or [])
        run = Run(reply={})
        idle = False
        deadline = time.monotonic() + timeout
        while not idle:
            assert time.monotonic() < deadline, f"no idle within {timeout}s; so far {run}"
            try:
                req = self.kc.stdin_channel.get_msg(timeout=0.005)
            except queue.Empty:
                pass
            else:
                if req["header"]["msg_type"] == "input_request":
                    run.prompts.append(req["content"]["prompt"])
                    if interrupt_on_input:
                        self.km.interrupt_kernel()
                    else:
                        self.kc.input(pending.pop(0) if pending else "")
            try:
                msg = self.kc.iopub_channel.get_msg(timeout=0.02)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    run.stdout += content["text"]
                else:
                    run.stderr += content["text"]
            elif kind == "execute_result":
                run.results.append(content["data"].get("text/plain", ""))
            elif kind == "error":
                run.errors.append(content)
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                run.reply = reply["content"]
                break
        if timer is not None:
            timer.cancel()
        if self.first_execution_s is None:
            self.first_execution_s = time.monotonic() - t0
        return run


def _unsandboxed_specs(tmp: Path) -> Path:
    for name in NAMES:
        spec = json.loads((SPECS / f"interview-{name}" / "kernel.json").read_text())
        spec["argv"][0] = sys.executable
        spec["metadata"].pop("kernel_provisioner", None)
        target = tmp / f"interview-{name}"
        target.mkdir(parents=True)
        (target / "kernel.json").write_text(json.dumps(spec))
    return tmp


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Session]]:
    """One kernel per language for the whole module, started on first use, in a scratch room folder."""
    specs = _unsandboxed_specs(tmp_path_factory.mktemp("kernels"))
    room = tmp_path_factory.mktemp("room")
    ksm = KernelSpecManager(kernel_dirs=[str(specs)])
    sessions: dict[str, Session] = {}

    class Lazy(dict[str, Session]):
        def __missing__(self, name: str) -> Session:
            t0 = time.monotonic()
            km = KernelManager(kernel_name=f"interview-{name}", kernel_spec_manager=ksm)
            # The sandbox gives kernels a near-empty environment and maybe no usable HOME; so does this test.
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}
            km.start_kernel(cwd=str(room), env=env)
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            session = Session(km, kc, time.monotonic() - t0)
            self[name] = session
            sessions[name] = session
            return session

    yield Lazy()
    for name, session in sessions.items():
        first = f"{session.first_execution_s:.2f}s" if session.first_execution_s is not None else "-"
        print(f"\n{name}: kernel ready in {session.started_s:.2f}s, first execution {first}")
        session.kc.stop_channels()
        # A shutdown_request, so that the kernel removes its scratch folder; all kernels at once.
        session.km.request_shutdown()
    for session in sessions.values():
        session.km.finish_shutdown()
        session.km.cleanup_resources()


def _skip_if_missing(name: str) -> None:
    availability = check(LANGUAGES[name])
    if not availability.ok:
        pytest.skip(f"{name}: {availability.reason}")


# --- the programs -----------------------------------------------------------------------------------------
# Two-sum, LeetCode style: line 1 holds the numbers, line 2 the target; prints the two indices.
TWO_SUM_INPUT = ["2 7 11 15", "9"]

TWO_SUM: dict[str, str] = {
    "c": """\
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char line[4096];
    int nums[1024], n = 0, target;
    printf("numbers: ");
    if (!fgets(line, sizeof line, stdin)) return 1;
    for (char *tok = strtok(line, " \\n"); tok; tok = strtok(NULL, " \\n")) nums[n++] = atoi(tok);
    printf("target: ");
    if (scanf("%d", &target) != 1) return 1;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (nums[i] + nums[j] == target) { printf("%d %d\\n", i, j); return 0; }
    return 1;
}
""",
    "cpp": """\
#include <bits/stdc++.h>
using namespace std;

vector<int> twoSum(const vector<int>& nums, int target) {
    unordered_map<int, int> seen;
    for (int i = 0; i < (int)nums.size(); i++) {
        auto it = seen.find(target - nums[i]);
        if (it != seen.end()) return {it->second, i};
        seen[nums[i]] = i;
    }
    return {};
}

int main() {
    string line;
    getline(cin, line);
    istringstream in(line);
    vector<int> nums;
    for (int x; in >> x;) nums.push_back(x);
    int target;
    cin >> target;
    auto r = twoSum(nums, target);
    cout << r[0] << " " << r[1] << endl;
}
""",
    "go": """\
import (
\t"bufio"
\t"fmt"
\t"os"
\t"strconv"
\t"strings"
)

func twoSum(nums []int, target int) []int {
\tseen := map[int]int{}
\tfor i, x := range nums {
\t\tif j, ok := seen[target-x]; ok {
\t\t\treturn []int{j, i}
\t\t}
\t\tseen[x] = i
\t}
\treturn nil
}

func main() {
\tr := bufio.NewReader(os.Stdin)
\tline, _ := r.ReadString('\\n')
\tvar nums []int
\tfor _, f := range strings.Fields(line) {
\t\tx, _ := strconv.Atoi(f)
\t\tnums = append(nums, x)
\t}
\tvar target int
\tfmt.Fscan(r, &target)
\tans := twoSum(nums, target)
\tfmt.Println(ans[0], ans[1])
}
""",
    "rust": """\
use std::collections::HashMap;
use std::io::{self, BufRead};

fn two_sum(nums: &[i64], target: i64) -> (usize, usize) {
    let mut seen = HashMap::new();
    for (i, x) in nums.iter().enumerate() {
        if let Some(&j) = seen.get(&(target - x)) {
            return (j, i);
        }
        seen.insert(*x, i);
    }
    panic!("no solution");
}

fn main() {
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    let nums: Vec<i64> = lines.next().unwrap().unwrap().split_whitespace().map(|s| s.parse().unwrap()).collect();
    let target: i64 = lines.next().unwrap().unwrap().trim().parse().unwrap();
    let (a, b) = two_sum(&nums, target);
    println!("{} {}", a, b);
}
""",
    "java": """\
import java.util.*;

int[] twoSum(int[] nums, int target) {
    Map<Integer, Integer> seen = new HashMap<>();
    for (int i = 0; i < nums.length; i++) {
        Integer j = seen.get(target - nums[i]);
        if (j != null) return new int[] {j, i};
        seen.put(nums[i], i);
    }
    return new int[0];
}

Scanner in = new Scanner(System.in);
int[] nums = Arrays.stream(in.nextLine().trim().split("\\\\s+")).mapToInt(Integer::parseInt).toArray();
int target = Integer.parseInt(in.nextLine().trim());
int[] ans = twoSum(nums, target);
System.out.println(ans[0] + " " + ans[1]);
""",
    "javascript": """\
const readline = require('readline');
function twoSum(nums, target) {
  const seen = new Map();
  for (let i = 0; i < nums.length; i++) {
    if (seen.has(target - nums[i])) return [seen.get(target - nums[i]), i];
    seen.set(nums[i], i);
  }
}
const lines = [];
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  lines.push(line);
  if (lines.length === 2) {
    rl.close();
    const nums = lines[0].split(/\\s+/).map(Number);
    console.log(twoSum(nums, Number(lines[1])).join(' '));
  }
});
""",
    "typescript": """\
import * as fs from 'fs';

function twoSum(nums: number[], target: number): [number, number] {
  const seen = new Map<number, number>();
  for (let i = 0; i < nums.length; i++) {
    const j = seen.get(target - nums[i]);
    if (j !== undefined) return [j, i];
    seen.set(nums[i], i);
  }
  throw new Error('no solution');
}
const [first, second] = fs.readFileSync(0, 'utf8').split('\\n');
const nums: number[] = first.trim().split(/\\s+/).map(Number);
console.log(twoSum(nums, Number(second)).join(' '));
""",
    "ruby": """\
def two_sum(nums, target)
  seen = {}
  nums.each_with_index do |x, i|
    return [seen[target - x], i] if seen.key?(target - x)
    seen[x] = i
  end
end

nums = gets.split.map(&:to_i)
target = gets.to_i
puts two_sum(nums, target).join(' ')
""",
    "bash": """\
two_sum() {
  local target=$1; shift
  local -a nums=("$@")
  local i j
  for ((i = 0; i < ${#nums[@]}; i++)); do
    for ((j = i + 1; j < ${#nums[@]}; j++)); do
      if (( nums[i] + nums[j] == target )); then echo "$i $j"; return; fi
    done
  done
}
read -r -a nums
read -r target
two_sum "$target" "${nums[@]}"
""",
}

# The inputs each two-sum reads to its end (TypeScript reads all of stdin: the empty reply ends it).
TWO_SUM_INPUTS: dict[str, list[str]] = {name: TWO_SUM_INPUT for name in TWO_SUM}
TWO_SUM_INPUTS["typescript"] = [*TWO_SUM_INPUT, ""]

SQL_TWO_SUM = """\
CREATE TABLE nums (i INTEGER PRIMARY KEY, x INTEGER);
INSERT INTO nums (i, x) VALUES (0, 2), (1, 7), (2, 11), (3, 15);
SELECT a.i AS first, b.i AS second FROM nums a JOIN nums b ON a.i < b.i WHERE a.x + b.x = 9;
"""

# Two cells: the second uses what the first defined.
STATE: dict[str, tuple[str, str]] = {
    "javascript": ("let total = 40;\nfunction add(x) { return total + x; }", "console.log(add(2));"),
    "typescript": (
        "const total: number = 40;\nconst add = (x: number): number => total + x;",
        "console.log(add(2));",
    ),
    "java": ("int total = 40;\nint add(int x) { return total + x; }", "System.out.println(add(2));"),
    "ruby": ("total = 40\ndef add(x, t) = t + x", "puts add(2, total)"),
    "bash": ("total=40\nadd() { echo $(( total + $1 )); }", "add 2"),
    "sql": (
        "DROP TABLE IF EXISTS t;\nCREATE TABLE t (v INTEGER);\nINSERT INTO t VALUES (40), (2);",
        "SELECT sum(v) AS answer FROM t;",
    ),
}

# A runtime error: the error name, and what its trace must show (a frame in the cell, with its line).
RUNTIME: dict[str, tuple[str, str, str]] = {
    "c": (
        '#include <stdio.h>\n\nint get(int *p) {\n    return *p;\n}\n\nint main(void) {\n    printf("before\\n");\n'
        "    return get(NULL);\n}\n",
        "SIGSEGV",
        "cell:4",
    ),
    "cpp": (
        "#include <vector>\n\nint at(const std::vector<int>& v) {\n    return v.at(5);\n}\n\n"
        "int main() {\n    std::vector<int> v(3);\n    return at(v);\n}\n",
        "std::out_of_range",
        "cell:4",
    ),
    "go": (
        "func get(xs []int) int {\n\treturn xs[5]\n}\n\nfunc main() {\n\tget([]int{1, 2, 3})\n}\n",
        "panic",
        "cell:2",
    ),
    "rust": (
        'fn get(xs: &[i32]) -> i32 {\n    xs[5]\n}\n\nfn main() {\n    let v = vec![1, 2, 3];\n    println!("{}", get(&v));\n}\n',
        "panic",
        "cell:2",
    ),
    "java": (
        "int div(int a, int b) {\n    return a / b;\n}\ndiv(1, 0);",
        "java.lang.ArithmeticException",
        "cell:2",
    ),
    "javascript": (
        "function boom() {\n  throw new TypeError('bad value');\n}\nboom();",
        "TypeError",
        "cell:2",
    ),
    "typescript": (
        "interface P { x: number }\n\nfunction boom(p: P): number {\n  throw new RangeError('bad ' + p.x);\n}\nboom({ x: 1 });",
        "RangeError",
        "cell:4",
    ),
    "ruby": ("def boom\n  raise ArgumentError, 'bad value'\nend\nboom", "ArgumentError", "cell:2"),
    "bash": ("fail() {\n  no_such_command_here\n}\nfail", "BashError", "cell:2"),
    "sql": ("SELECT 1;\nSELECT * FROM no_such_table;", "OperationalError", "no such table"),
}

# A compile error and the cell line it must be reported at.
COMPILE: dict[str, tuple[str, str]] = {
    "c": ('#include <stdio.h>\n\nint main(void) {\n    printf("%d\\n", missing);\n}\n', "cell:4"),
    "cpp": ("#include <iostream>\n\nint main() {\n    std::cout << missing << std::endl;\n}\n", "cell:4"),
    "go": ('import "fmt"\n\nfunc main() {\n\tfmt.Println(missing)\n}\n', "cell:4"),
    "rust": ('fn main() {\n    let x = 1;\n    println!("{}", missing);\n}\n', "cell:3"),
    "java": ("int ok = 1;\nint bad = missing + 1;", "cell:2"),
    "typescript": ("let a = 1;\nlet b = (2;", "cell:2"),
}


# Runs until interrupted.
FOREVER: dict[str, str] = {
    "c": "int main(void) {\n    volatile unsigned long n = 0;\n    for (;;) n++;\n}\n",
    "cpp": "int main() {\n    volatile unsigned long n = 0;\n    for (;;) n++;\n}\n",
    "go": "func main() {\n\tn := 0\n\tfor {\n\t\tn++\n\t}\n}\n",
    "rust": 'fn main() {\n    let mut n: u64 = 1;\n    loop {\n        n = n.wrapping_add(1);\n        if n == 0 {\n            println!("wrapped");\n        }\n    }\n}\n',
    "java": "long n = 0;\nwhile (true) { n++; }",
    "javascript": "let n = 0;\nwhile (true) { n++; }",
    "typescript": "let n: number = 0;\nwhile (true) { n++; }",
    "ruby": "n = 0\nloop { n += 1 }",
    "bash": "spin() { while true; do :; done; }\nspin\necho not reached",
    "sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;",
}

# Prints "alive".
ALIVE: dict[str, str] = {
    "c": '#include <stdio.h>\nint main(void) { puts("alive"); }\n',
    "cpp": '#include <cstdio>\nint main() { std::puts("alive"); }\n',
    "go": 'import "fmt"\n\nfunc main() { fmt.Println("alive") }\n',
    "rust": 'fn main() { println!("alive"); }\n',
    "java": 'System.out.println("alive");',
    "javascript": "console.log('alive');",
    "typescript": "console.log('alive' as string);",
    "ruby": "puts 'alive'",
    "bash": "echo alive",
    "sql": "SELECT 'alive' AS state;",
}


def _kernel(kernels: dict[str, Session], name: str) -> Session:
    _skip_if_missing(name)
    return kernels[name]


@pytest.mark.parametrize("name", NAMES)
def test_kernel_reports_full_language_info(kernels: dict[str, Session], name: str) -> None:
    session = _kernel(kernels, name)
    session.kc.kernel_info()
    reply = session.kc.get_shell_msg(timeout=30)
    info = reply["content"]["language_info"]
    assert {"name", "version", "mimetype", "file_extension", "codemirror_mode", "pygments_lexer"} <= set(info)
    assert info["version"] not in ("", "unknown"), info
    assert info["file_extension"] == LANGUAGES[name].file_extension


@pytest.mark.parametrize("name", [n for n in NAMES if n != "sql"])
def test_two_sum_reads_stdin_through_input_requests(kernels: dict[str, Session], name: str) -> None:
    session = _kernel(kernels, name)
    run = session.run(TWO_SUM[name], inputs=list(TWO_SUM_INPUTS[name]))
    assert run.reply["status"] == "ok", run
    assert run.stdout.strip().splitlines()[-1].strip().endswith("0 1"), run
    assert len(run.prompts) >= 2, run


def test_sql_two_sum_as_a_query(kernels: dict[str, Session]) -> None:
    run = kernels["sql"].run(SQL_TWO_SUM)
    assert run.reply["status"] == "ok", run
    assert run.results and "0" in run.results[-1] and "1" in run.results[-1], run


@pytest.mark.parametrize("name", list(STATE))
def test_state_is_kept_across_cells(kernels: dict[str, Session], name: str) -> None:
    session = _kernel(kernels, name)
    first, second = STATE[name]
    assert session.run(first).reply["status"] == "ok"
    run = session.run(second)
    assert run.reply["status"] == "ok", run
    assert "42" in run.stdout + "".join(run.results), run


@pytest.mark.parametrize("name", ["javascript", "typescript"])
def test_top_level_await_keeps_its_names(kernels: dict[str, Session], name: str) -> None:
    session = _kernel(kernels, name)
    first = session.run("const answer = await new Promise((ok) => setTimeout(() => ok(40), 10));\nanswer")
    assert first.reply["status"] == "ok" and first.results == ["40"], first
    second = session.run("answer + 2")
    assert second.results == ["42"], second


@pytest.mark.parametrize("name", list(RUNTIME))
def test_runtime_error_has_name_message_and_trace(kernels: dict[str, Session], name: str) -> None:
    session = _kernel(kernels, name)
    code, ename, where = RUNTIME[name]
    run = session.run(code)
    assert run.reply["status"] == "error", run
    assert run.reply["ename"] == ename, run
    assert run.reply["evalue"], run
    assert where in run.error_text, run.error_text
    assert run.errors and run.errors[0]["ename"] == ename


@pytest.mark.parametrize("name", list(COMPILE))
def test_compile_error_points_at_the_cell_line(kernels: dict[str, Session], name: str) -> None:
    session = _kernel(kernels, name)
    code, where = COMPILE[name]
    run = session.run(code)
    assert run.reply["status"] == "error", run
    assert where in run.error_text, run.error_text


@pytest.mark.parametrize("name", NAMES)
def test_interrupt_stops_the_cell_and_keeps_the_session(kernels: dict[str, Session], name: str) -> None:
    session = _kernel(kernels, name)
    if name in STATE:
        assert session.run(STATE[name][0]).reply["status"] == "ok"
    run = session.run(FOREVER[name], interrupt_after=1.5, timeout=30)
    assert run.reply["status"] == "error", run
    assert run.reply["ename"] == "KeyboardInterrupt", run
    after = session.run(ALIVE[name])
    assert after.reply["status"] == "ok", after
    assert "alive" in after.stdout + "".join(after.results), after
    assert "started again" not in after.stderr, after
    if name in STATE:  # the REPL was stopped, not restarted: what it held is still there
        kept = session.run(STATE[name][1])
        assert "42" in kept.stdout + "".join(kept.results), kept


@pytest.mark.parametrize("name", ["c", "ruby"])
def test_interrupt_while_the_program_waits_for_input(kernels: dict[str, Session], name: str) -> None:
    session = _kernel(kernels, name)
    run = session.run(TWO_SUM[name], interrupt_on_input=True, timeout=30)
    assert run.prompts, run
    assert run.reply["status"] == "error" and run.reply["ename"] == "KeyboardInterrupt", run
    assert session.run(ALIVE[name]).reply["status"] == "ok"


@pytest.mark.parametrize(
    ("name", "code", "expected"),
    [
        ("javascript", "Math.ma", "max"),
        ("typescript", "let items = [1];\nite", "items"),
        ("java", 'String s = ""; s.leng', "length()"),
        ("ruby", "pu", "puts"),
        ("bash", "ech", "echo"),
        ("sql", "SEL", "SELECT"),
        ("go", "fmt.Prin", "Println"),
    ],
)
def test_completion_offers_names_at_the_cursor(
    kernels: dict[str, Session], name: str, code: str, expected: str
) -> None:
    session = _kernel(kernels, name)
    session.run(ALIVE[name])  # the driver is up and idle
    session.kc.complete(code, len(code))
    reply = session.kc.get_shell_msg(timeout=30)["content"]
    assert expected in reply["matches"], reply
    assert code[reply["cursor_start"] : reply["cursor_end"]] in expected


def test_without_stdin_a_reading_program_gets_end_of_input(kernels: dict[str, Session]) -> None:
    session = _kernel(kernels, "c")
    msg_id = session.kc.execute(TWO_SUM["c"], allow_stdin=False, stop_on_error=False)
    while True:
        reply = session.kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    assert reply["content"]["status"] == "error"
    assert reply["content"]["evalue"] == "the program exited with status 1"


def test_output_is_capped_with_a_notice(kernels: dict[str, Session]) -> None:
    run = _kernel(kernels, "bash").run("yes 0123456789 | head -n 300000")
    assert run.reply["status"] == "ok"
    assert len(run.stdout) <= 2_000_000
    assert "output truncated" in run.stderr


def test_a_missing_toolchain_is_reported_at_execution(tmp_path: Path) -> None:
    spec = json.loads((SPECS / "interview-go" / "kernel.json").read_text())
    spec["argv"][0] = sys.executable
    spec["metadata"].pop("kernel_provisioner")
    (tmp_path / "interview-go").mkdir()
    (tmp_path / "interview-go" / "kernel.json").write_text(json.dumps(spec))
    km = KernelManager(
        kernel_name="interview-go", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path)])
    )
    km.start_kernel(cwd=str(tmp_path), env={"PATH": str(tmp_path), "LANG": "C.UTF-8", "HOME": str(tmp_path)})
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        run = Session(km, kc, 0).run("func main() {}")
        assert run.reply["ename"] == "ToolchainMissing", run
        assert "go" in run.reply["evalue"] and "golang-go" in run.reply["evalue"], run
    finally:
        kc.stop_channels()
        km.shutdown_kernel()


def test_available_lists_every_language_with_a_reason() -> None:
    from interview_kernel import available

    listed = {a.name: a for a in available()}
    assert set(listed) == set(LANGUAGES)
    for a in listed.values():
        assert a.ok or a.reason


def test_missing_toolchain_is_unavailable_with_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    availability = check(LANGUAGES["go"])
    assert not availability.ok
    assert "go" in availability.reason


def test_shipped_kernelspecs_match_the_language_table() -> None:
    for name, spec in LANGUAGES.items():
        shipped = json.loads((SPECS / f"interview-{name}" / "kernel.json").read_text())
        assert shipped == spec.kernelspec()
