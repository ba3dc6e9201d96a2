# The Ruby REPL behind interview_kernel's Ruby adapter: every cell is evaluated in one binding, so local
# variables, methods and classes carry over.
#
# argv: <command fd> <event fd>. Commands arrive framed as "<op>\t<arg>\t<byte length>\n<payload>";
# events leave as JSON lines. Each cell's stdin is the FIFO named in its exec command (STDIN is reopened
# on it), so `gets` and STDIN.read block there and the kernel answers with input_requests.
require 'json'

module InterviewDriver
  FILE = 'cell'

  class << self
    def run(cmd_fd, evt_fd)
      @cmd = IO.new(cmd_fd, 'rb')
      @evt = IO.new(evt_fd, 'w')
      @evt.sync = true
      @binding = TOPLEVEL_BINDING
      $stdout.sync = true
      $stderr.sync = true
      # SIGINT interrupts a running cell only; the kernel repeats it until the cell has ended.
      @running = false
      main = Thread.current
      trap('INT') { main.raise(Interrupt) if @running }
      STDIN.reopen(File::NULL)
      send_event(ev: 'ready', ruby: RUBY_VERSION)
      loop do
        header = read_header
        break if header.nil?

        op, arg, size = header.chomp.split("\t", 3)
        payload = size.to_i.zero? ? '' : @cmd.read(size.to_i)
        payload = payload.to_s.force_encoding(Encoding::UTF_8)
        case op
        when 'exec' then execute(arg, payload)
        when 'complete' then complete(payload, arg.to_i)
        end
      end
    end

    def read_header
      @cmd.gets
    end

    def send_event(event)
      @evt.write(JSON.generate(event) + "\n")
    end

    def execute(fifo, code)
      STDIN.reopen(fifo, 'r')
      $stdin = STDIN
      begin
        value = begin
          @running = true
          eval(code, @binding, FILE, 1) # rubocop:disable Security/Eval
        ensure
          @running = false
        end
        $stdout.flush
        unless value.nil? || code.rstrip.end_with?(';')
          send_event(ev: 'result', data: { 'text/plain' => value.inspect })
        end
      rescue SystemExit => e
        send_error('SystemExit', "exit #{e.status}", []) unless e.success?
      rescue Interrupt
        send_error('KeyboardInterrupt', 'interrupted by the user', [])
      rescue ScriptError, StandardError, SystemStackError, NoMemoryError, SignalException => e
        send_error(e.class.name, e.message, frames(e))
      end
    ensure
      $stdout.flush
      $stderr.flush
      STDIN.reopen(File::NULL)
      send_event(ev: 'done')
    end

    def frames(error)
      (error.backtrace || [])
        .select { |line| line.start_with?("#{FILE}:") }
        .map { |line| "  from #{line.sub(/:in `<(main|top \(required\))>'/, '')}" }
    end

    def send_error(ename, evalue, frames)
      $stdout.flush
      send_event(ev: 'error', ename: ename, evalue: evalue, traceback: ["#{ename}: #{evalue}", *frames])
    end

    def complete(code, cursor)
      before = code[0, cursor] || ''
      prefix = before[/[A-Za-z_][A-Za-z0-9_]*[?!]?\z/] || ''
      names = @binding.local_variables.map(&:to_s) +
              @binding.receiver.methods.map(&:to_s) +
              @binding.receiver.private_methods.map(&:to_s) +
              Object.constants.map(&:to_s)
      matches = names.uniq.select { |n| n.start_with?(prefix) }.sort
      send_event(ev: 'completions', matches: matches, start: cursor - prefix.length, end: cursor)
    end
  end
end

InterviewDriver.run(Integer(ARGV.shift), Integer(ARGV.shift))
