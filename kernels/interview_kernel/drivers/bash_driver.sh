# Sourced once by the Bash adapter's shell (interview_kernel). The kernel then writes one line per cell:
#   builtin source <cell file> < <stdin FIFO>; __interview_done $?
# so each cell runs in this shell (variables, functions and the directory carry over) with its own stdin.
# Events go to fd $__interview_ev: "err ..." for every failing command (the trace of the cell's error),
# "done <status>" when a cell ends.
set +o history
set -o errtrace
__interview_err() {
  printf 'err %s\037%s\037%s\037%s\037%s\n' "$1" "$2" "$3" "$4" "$5" >&"$__interview_ev"
}
__interview_done() {
  printf 'done %s\n' "$1" >&"$__interview_ev"
}
__interview_complete() {
  printf 'completions %s\n' "$(compgen -A function -A variable -A command -A file -- "$1" 2>/dev/null | sort -u | head -200 | tr '\n' '\037')" >&"$__interview_ev"
}
# After an interrupt, every level the 130 reaches returns too, so the whole cell ends; the kernel also
# repeats the interrupt until the cell is over (a function called as an `if` condition does not fail).
trap '__interview_err "$?" "$LINENO" "${BASH_SOURCE[*]}" "${BASH_LINENO[*]}" "${FUNCNAME[*]}"
[[ -z $__interview_interrupted ]] || return 130 2>/dev/null' ERR
trap '__interview_interrupted=1; return 130 2>/dev/null' INT
printf 'ready\n' >&"$__interview_ev"
