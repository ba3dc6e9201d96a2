// The Java REPL behind interview_kernel's Java adapter: the JShell API with in-process ("local") execution.
//
// argv: <command fd> <event fd>. Commands arrive framed as "<op>\t<arg>\t<byte length>\n<payload>" and are
// read on their own thread, so an "interrupt" reaches a running cell; events leave as JSON lines.
// A cell is split into snippets with SourceCodeAnalysis, and every diagnostic and stack frame is mapped
// back to the cell's own line numbers. System.in reads the cell's stdin FIFO.

import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jdk.jshell.Diag;
import jdk.jshell.EvalException;
import jdk.jshell.JShell;
import jdk.jshell.JShellException;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.UnresolvedReferenceException;

public class InterviewShell {
    private static PrintStream events;
    private static final CellInput INPUT = new CellInput();
    private static JShell shell;
    private static volatile boolean interrupted;
    // snippet id -> {cell number, line of the snippet's first character in that cell}
    private static final Map<String, int[]> ORIGIN = new HashMap<>();
    private static int currentCell;

    /** System.in for cells: the current cell's FIFO, end-of-file outside a cell. */
    static final class CellInput extends InputStream {
        private String path;
        private FileInputStream in;
        private boolean eof = true;

        synchronized void open(String fifo) {
            finish();
            path = fifo;
            eof = false;
        }

        synchronized void finish() {
            if (in != null) {
                try {
                    in.close();
                } catch (IOException ignored) {
                    // the FIFO is gone already
                }
            }
            in = null;
            path = null;
            eof = true;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n <= 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            System.out.flush(); // a prompt printed without a newline shows before the input request
            FileInputStream stream;
            synchronized (this) {
                if (eof || path == null) {
                    return -1;
                }
                if (in == null) {
                    in = new FileInputStream(path);
                }
                stream = in;
            }
            int n = stream.read(b, off, len);
            if (n < 0) {
                synchronized (this) {
                    eof = true;
                }
            }
            return n;
        }
    }

    public static void main(String[] args) throws Exception {
        InputStream commands = new FileInputStream("/proc/self/fd/" + args[0]);
        events = new PrintStream(new FileOutputStream("/proc/self/fd/" + args[1]), true, StandardCharsets.UTF_8);
        System.setIn(INPUT);
        shell = JShell.builder().executionEngine("local").in(INPUT).out(System.out).err(System.err).build();
        // The first eval loads and warms javac (about a second); pay it before the candidate's first cell.
        for (SnippetEvent e : shell.eval("int interviewWarmUp = java.util.List.of(1, 2).size();")) {
            shell.drop(e.snippet());
        }
        shell.sourceCodeAnalysis().analyzeCompletion("int x = 1;");
        LinkedBlockingQueue<String[]> work = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> readCommands(commands, work), "commands");
        reader.setDaemon(true);
        reader.start();
        send("{\"ev\":\"ready\",\"java\":" + json(System.getProperty("java.version")) + "}");
        while (true) {
            String[] cmd = work.take();
            if (cmd[0].equals("eof")) {
                break;
            }
            if (cmd[0].equals("exec")) {
                execute(cmd[1], cmd[2]);
            } else if (cmd[0].equals("complete")) {
                complete(cmd[2], Integer.parseInt(cmd[1]));
            }
        }
        shell.close();
        System.exit(0);
    }

    private static void readCommands(InputStream in, LinkedBlockingQueue<String[]> work) {
        try {
            while (true) {
                String header = readLine(in);
                if (header == null) {
                    break;
                }
                String[] parts = header.split("\t", 3);
                int size = Integer.parseInt(parts[2].trim());
                byte[] payload = readExactly(in, size);
                if (parts[0].equals("interrupt")) {
                    interrupted = true;
                    shell.stop();
                } else {
                    if (parts[0].equals("exec")) {
                        interrupted = false; // an interrupt read after this line is for this cell
                    }
                    work.put(new String[] {parts[0], parts[1], new String(payload, StandardCharsets.UTF_8)});
                }
            }
        } catch (IOException | InterruptedException ignored) {
            // the kernel went away
        }
        work.add(new String[] {"eof", "", ""});
    }

    // FileInputStream.readNBytes seeks, which fails on a pipe (JDK 17).
    private static byte[] readExactly(InputStream in, int size) throws IOException {
        byte[] data = new byte[size];
        int done = 0;
        while (done < size) {
            int n = in.read(data, done, size - done);
            if (n < 0) {
                throw new IOException("command pipe closed inside a frame");
            }
            done += n;
        }
        return data;
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                return null;
            }
            line.write(c);
        }
        return line.toString(StandardCharsets.UTF_8);
    }

    private static void execute(String fifo, String code) {
        Matcher number = Pattern.compile("stdin-(\\d+)$").matcher(fifo);
        currentCell = number.find() ? Integer.parseInt(number.group(1)) : currentCell + 1;
        INPUT.open(fifo);
        try {
            run(code);
        } finally {
            System.out.flush();
            System.err.flush();
            INPUT.finish();
            send("{\"ev\":\"done\"}");
        }
    }

    private static void run(String code) {
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        String remaining = code;
        int offset = 0;
        String value = null;
        while (!remaining.isBlank()) {
            if (interrupted) {
                error("KeyboardInterrupt", "interrupted by the user", List.of());
                return;
            }
            SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(remaining);
            if (info.completeness() == SourceCodeAnalysis.Completeness.EMPTY) {
                break;
            }
            boolean complete = info.completeness().isComplete();
            String source = complete ? info.source() : remaining;
            String rest = complete ? info.remaining() : "";
            // Where source[0] sits in the cell: jshell keeps the snippet's leading blank lines in its source.
            int lead = source.length() - source.stripLeading().length();
            int start = Math.max(0, offset + snippetStart(remaining, source) - lead);
            int line = lineOf(code, start);
            value = null;
            for (SnippetEvent event : shell.eval(source)) {
                if (event.causeSnippet() != null) {
                    continue; // a dependent snippet updated by this one
                }
                Snippet snippet = event.snippet();
                ORIGIN.put(snippet.id(), new int[] {currentCell, line});
                if (interrupted) {
                    error("KeyboardInterrupt", "interrupted by the user", List.of());
                    return;
                }
                if (event.status() == Snippet.Status.REJECTED) {
                    compileError(snippet, code, start);
                    return;
                }
                if (event.exception() != null) {
                    runtimeError(event.exception());
                    return;
                }
                if (event.status() == Snippet.Status.RECOVERABLE_DEFINED
                        || event.status() == Snippet.Status.RECOVERABLE_NOT_DEFINED) {
                    System.err.println("note: " + snippet.kind().toString().toLowerCase(Locale.ROOT)
                            + " is declared but cannot be used until what it refers to is declared:"
                            + " " + String.join(", ", unresolved(snippet)));
                }
                Snippet.SubKind kind = snippet.subKind();
                if (kind == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND
                        || kind == Snippet.SubKind.VAR_VALUE_SUBKIND
                        || kind == Snippet.SubKind.ASSIGNMENT_SUBKIND) {
                    value = event.value();
                }
            }
            offset += remaining.length() - rest.length();
            remaining = rest;
        }
        System.out.flush();
        // As in IJava and IPython, a trailing ";" hides the last expression's value.
        if (value != null && !code.stripTrailing().endsWith(";")) {
            send("{\"ev\":\"result\",\"data\":{\"text/plain\":" + json(value) + "}}");
        }
    }

    private static List<String> unresolved(Snippet snippet) {
        List<String> names = new ArrayList<>();
        if (snippet instanceof jdk.jshell.DeclarationSnippet) {
            shell.unresolvedDependencies((jdk.jshell.DeclarationSnippet) snippet).forEach(names::add);
        }
        return names;
    }

    private static int snippetStart(String remaining, String source) {
        String head = source.strip();
        head = head.substring(0, Math.min(head.length(), 24));
        int at = head.isEmpty() ? -1 : remaining.indexOf(head);
        if (at >= 0) {
            return at;
        }
        int i = 0;
        while (i < remaining.length() && Character.isWhitespace(remaining.charAt(i))) {
            i++;
        }
        return i;
    }

    private static int lineOf(String text, int index) {
        int line = 1;
        for (int i = 0; i < Math.min(index, text.length()); i++) {
            if (text.charAt(i) == '\n') {
                line++;
            }
        }
        return line;
    }

    private static void compileError(Snippet snippet, String code, int start) {
        List<String> trace = new ArrayList<>();
        String first = null;
        for (Diag diag : shell.diagnostics(snippet).toList()) {
            if (!diag.isError()) {
                continue;
            }
            int at = start + (int) Math.max(0, diag.getStartPosition());
            int line = lineOf(code, at);
            int lineStart = code.lastIndexOf('\n', Math.max(0, at - 1)) + 1;
            if (at > 0 && at <= code.length() && code.charAt(at - 1) == '\n') {
                lineStart = at;
            }
            int lineEnd = code.indexOf('\n', lineStart);
            String message = diag.getMessage(Locale.ROOT);
            String[] lines = message.split("\n");
            if (first == null) {
                first = "cell:" + line + ": " + lines[0];
            }
            trace.add("cell:" + line + ": error: " + lines[0]);
            trace.add(code.substring(lineStart, lineEnd < 0 ? code.length() : lineEnd));
            trace.add(" ".repeat(Math.max(0, at - lineStart)) + "^");
            for (int i = 1; i < lines.length; i++) {
                if (!lines[i].strip().startsWith("location: class")) { // jshell's wrapper class has no name
                    trace.add(lines[i]);
                }
            }
        }
        if (first == null) {
            first = "the snippet was rejected";
        }
        error("CompileError", first, trace);
    }

    private static void runtimeError(JShellException exception) {
        if (exception instanceof UnresolvedReferenceException) {
            Snippet snippet = ((UnresolvedReferenceException) exception).getSnippet();
            String message = snippet.toString();
            if (snippet instanceof jdk.jshell.DeclarationSnippet) {
                message = ((jdk.jshell.DeclarationSnippet) snippet).name() + " refers to what is not declared yet: "
                        + String.join(", ", unresolved(snippet));
            }
            error("UnresolvedReference", message, List.of());
            return;
        }
        String ename = exception instanceof EvalException
                ? ((EvalException) exception).getExceptionClassName() : exception.getClass().getName();
        String evalue = exception.getMessage() == null ? "" : exception.getMessage();
        List<String> trace = new ArrayList<>();
        Throwable cause = exception;
        boolean head = true;
        while (cause != null) {
            if (!head) {
                String name = cause instanceof EvalException
                        ? ((EvalException) cause).getExceptionClassName() : cause.getClass().getName();
                trace.add("Caused by: " + name + ": " + cause.getMessage());
            }
            head = false;
            for (StackTraceElement frame : cause.getStackTrace()) {
                String file = frame.getFileName();
                if (file == null || !file.startsWith("#")) {
                    continue;
                }
                int[] origin = ORIGIN.get(file.substring(1));
                String where = file;
                if (origin != null) {
                    int line = origin[1] + Math.max(frame.getLineNumber(), 1) - 1;
                    where = (origin[0] == currentCell ? "cell" : "cell[" + origin[0] + "]") + ":" + line;
                }
                String method = frame.getMethodName();
                if (method.isEmpty() || method.equals("do_it$")) {
                    method = "<cell>";
                }
                trace.add("  at " + method + " (" + where + ")");
            }
            cause = cause.getCause();
        }
        if (interrupted) {
            error("KeyboardInterrupt", "interrupted by the user", List.of());
            return;
        }
        List<String> full = new ArrayList<>();
        full.add(ename + ": " + evalue);
        full.addAll(trace);
        error(ename, evalue, full);
    }

    private static void error(String ename, String evalue, List<String> traceback) {
        System.out.flush();
        System.err.flush();
        StringBuilder lines = new StringBuilder("[");
        for (int i = 0; i < traceback.size(); i++) {
            lines.append(i == 0 ? "" : ",").append(json(traceback.get(i)));
        }
        lines.append("]");
        send("{\"ev\":\"error\",\"ename\":" + json(ename) + ",\"evalue\":" + json(evalue)
                + ",\"traceback\":" + lines + "}");
    }

    private static void complete(String code, int cursor) {
        int[] anchor = new int[1];
        TreeSet<String> names = new TreeSet<>();
        try {
            for (SourceCodeAnalysis.Suggestion s : shell.sourceCodeAnalysis().completionSuggestions(code, cursor, anchor)) {
                names.add(s.continuation());
            }
        } catch (RuntimeException ignored) {
            // no suggestions for this position
        }
        StringBuilder list = new StringBuilder("[");
        for (String name : names) {
            list.append(list.length() == 1 ? "" : ",").append(json(name));
        }
        list.append("]");
        send("{\"ev\":\"completions\",\"matches\":" + list + ",\"start\":" + anchor[0] + ",\"end\":" + cursor + "}");
    }

    private static void send(String event) {
        synchronized (events) {
            events.print(event + "\n");
            events.flush();
        }
    }

    private static String json(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
