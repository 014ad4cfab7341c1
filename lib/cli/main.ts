/**
 * `musicgen` — the command line over lib/: inspect, train, generate, evaluate.
 * Errors print one line on stderr and exit 1 (stack traces with --verbose);
 * --json prints one JSON object as the last line of stdout.
 */
import { UserError } from '../core/errors';
import { flagHelp, parseFlags, type FlagSpecs, type ParsedArgs } from './args';
import { EVALUATE_FLAGS, evaluateCommand } from './evaluate';
import { GENERATE_FLAGS, generateCommand } from './generate';
import { INSPECT_FLAGS, inspectCommand } from './inspect';
import { PREPARE_FLAGS, prepareCommand } from './prepare';
import { stopBars } from './progress';
import { Interrupted, type Io, type JsonResult } from './shared';
import { TRAIN_FLAGS, trainCommand } from './train';

interface Command {
  readonly usage: string;
  readonly summary: string;
  readonly flags: FlagSpecs;
  /** How many positional arguments it takes (more are an error). */
  readonly positionals: number;
  readonly run: (a: ParsedArgs, io: Io) => Promise<JsonResult>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  inspect: {
    usage: 'inspect <file|dir> [--json]',
    summary: 'load MIDI files and report what would be used (and what is skipped, and why)',
    flags: INSPECT_FLAGS,
    positionals: 1,
    run: inspectCommand,
  },
  train: {
    usage: 'train --data DIR --out DIR [hyperparameters] [--resume | --force]',
    summary: 'train a model on a folder of MIDI files or a prepared folder',
    flags: TRAIN_FLAGS,
    positionals: 0,
    run: trainCommand,
  },
  generate: {
    usage: 'generate --model DIR --out FILE.mid [--length N --temperature T --top-k K --top-p P --seed S --primer FILE.mid]',
    summary: 'write a new piece with a trained model',
    flags: GENERATE_FLAGS,
    positionals: 0,
    run: generateCommand,
  },
  evaluate: {
    usage: 'evaluate --model DIR --data DIR',
    summary: 'score a model on held-out MIDI against an n-gram baseline; music statistics of its output',
    flags: EVALUATE_FLAGS,
    positionals: 0,
    run: evaluateCommand,
  },
  prepare: {
    usage: 'prepare --data DIR... --out DIR [tokenizer and MIDI flags] [--threads N] [--family note [--no-copy] [--no-lookback]]',
    summary: 'tokenize MIDI folders once into binary shards that train and evaluate read (--data DIR)',
    flags: PREPARE_FLAGS,
    positionals: 0,
    run: prepareCommand,
  },
};

/** The exit status of a command stopped by a signal: 128 + the signal number, as a shell reports it. */
function signalExitCode(signal: NodeJS.Signals | null): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

function mainHelp(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  return [
    'usage: npm run -s musicgen -- <command> [flags]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(w)}${c.summary}`),
    '',
    'Run `musicgen <command> --help` for its flags. Common flags: --json, --verbose.',
  ].join('\n');
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const json = argv.includes('--json');
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp() + '\n');
    return name ? 0 : 1;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`musicgen: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})\n`);
    return 2;
  }
  let stop: NodeJS.Signals | null = null;
  let firstSignalAt = 0;
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    // Ctrl-C in a terminal signals the whole process group, and npm and tsx pass it on again: the copies that
    // arrive together are one press. A second press (later) quits at once.
    if (stop) {
      if (Date.now() - firstSignalAt > 1000) process.exit(signalExitCode(stop));
      return;
    }
    stop = signal;
    firstSignalAt = Date.now();
    process.stderr.write(`\nstopping on ${signal} (press Ctrl-C again to quit at once)…\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const args = parseFlags(rest, cmd.flags);
    if (args.values.help) {
      process.stdout.write(`usage: musicgen ${cmd.usage}\n\n${cmd.summary}\n\n${flagHelp(cmd.flags)}\n`);
      return 0;
    }
    const extra = args.positionals.slice(cmd.positionals);
    if (extra.length > 0) {
      throw new UserError(
        `unexpected argument "${extra[0]}": ${name} takes ${cmd.positionals === 0 ? 'only flags' : `one ${cmd.usage.split(' ')[1]}`} ` +
          `(usage: musicgen ${cmd.usage})`,
      );
    }
    const io: Io = {
      log: (line) => process.stderr.write(line + '\n'),
      quiet: json && !process.stderr.isTTY,
      interrupted: () => stop !== null,
      signal: abort.signal,
    };
    const result = await cmd.run(args, io);
    stopBars();
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
    return result.interrupted === true ? signalExitCode(stop) : 0;
  } catch (e) {
    // A bar drawn part-way ends its line first, so the message starts on a line of its own.
    stopBars();
    if (e instanceof Interrupted) {
      process.stderr.write(`musicgen ${name}: ${e.message}\n`);
      if (json) process.stdout.write(JSON.stringify({ interrupted: true, signal: stop }) + '\n');
      return signalExitCode(stop);
    }
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    const known = e instanceof UserError || e instanceof RangeError;
    process.stderr.write(`musicgen ${name}: ${known ? '' : 'error: '}${msg}\n`);
    if (verbose && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`musicgen: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
