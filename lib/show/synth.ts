/**
 * Audio preview: renders a Piece (or MIDI bytes) with FluidSynth, a real
 * SoundFont synthesizer, and a General-MIDI SoundFont, run as a child process
 * (`fluidsynth -ni -F out.wav -r RATE -g GAIN font.sf2 in.mid`).
 *
 * FluidSynth writes 32-bit float (so loud passages never clip inside it). The
 * result is trimmed or padded to the piece's length plus a short release tail
 * (with a fade-out, so the cut never clicks), optionally mixed to mono and
 * normalised to a peak level: {@link renderPcm} returns those samples,
 * {@link renderWav} writes them as 16-bit PCM WAV (compressed formats are in
 * ./mp3.ts). Nothing here prints; errors are one-line {@link UserError}s that
 * name what is missing and the command to install it.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errCode, UserError } from '../core/errors';
import { parseMidi } from '../midi/read';
import { pieceToMidiBytes } from '../midi/write';
import { pieceLengthSeconds, type Piece } from '../core/piece';
import { decodeWav, encodeWav, type PcmAudio } from './wav';

/** Debian/Ubuntu packages that provide the synthesizer and its General-MIDI SoundFont. */
const APT_AUDIO_PACKAGES: readonly string[] = ['fluidsynth', 'fluid-soundfont-gm'];

/** The command that installs the synthesizer on this platform. */
export function synthInstallCommand(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return 'brew install fluid-synth (then set MUSICGEN_SOUNDFONT to a General-MIDI .sf2 file)';
  return `sudo apt-get install -y ${APT_AUDIO_PACKAGES.join(' ')}`;
}

/** General-MIDI SoundFonts looked for, best first (Debian/Ubuntu, Fedora/Arch, Homebrew). */
const SOUNDFONT_CANDIDATES: readonly string[] = [
  '/usr/share/sounds/sf2/FluidR3_GM.sf2',
  '/usr/share/sounds/sf2/default-GM.sf2',
  '/usr/share/sounds/sf3/default-GM.sf3',
  '/usr/share/sounds/sf2/TimGM6mb.sf2',
  '/usr/share/soundfonts/FluidR3_GM.sf2',
  '/usr/share/soundfonts/default.sf2',
  '/opt/homebrew/share/soundfonts/default.sf2',
  '/usr/local/share/soundfonts/default.sf2',
];

/** A synthesizer found on this machine. */
export interface SynthInfo {
  /** Absolute path of the fluidsynth executable. */
  readonly fluidsynth: string;
  /** The General-MIDI SoundFont (.sf2/.sf3) it plays with. */
  readonly soundfont: string;
}

/** Where to look (all optional; defaults come from the environment). */
export interface SynthSearch {
  /** fluidsynth executable; default MUSICGEN_FLUIDSYNTH, else `fluidsynth` on PATH. */
  readonly fluidsynth?: string;
  /** SoundFont file; default MUSICGEN_SOUNDFONT, else the first of {@link SOUNDFONT_CANDIDATES} that exists. */
  readonly soundfont?: string;
  /** Environment to read PATH and the MUSICGEN_ variables from; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, pathVar: string | undefined): string | undefined {
  const exts = process.platform === 'win32' ? ['.exe', ''] : [''];
  for (const dir of (pathVar ?? '').split(path.delimiter).filter(Boolean)) {
    for (const ext of exts) {
      const full = path.join(dir, name + ext);
      if (isExecutable(full)) return full;
    }
  }
  return undefined;
}

/** Looks for the synthesizer; returns what was found and, when something is missing, a one-line reason. */
function search(where: SynthSearch): { synth: SynthInfo | null; problem: string } {
  const env = where.env ?? process.env;
  const install = synthInstallCommand();
  const exe = where.fluidsynth ?? env.MUSICGEN_FLUIDSYNTH;
  let fluidsynth: string | undefined;
  if (exe) {
    if (!isExecutable(exe)) return { synth: null, problem: `fluidsynth not found or not executable at ${exe}` };
    fluidsynth = path.resolve(exe);
  } else {
    fluidsynth = onPath('fluidsynth', env.PATH);
    if (!fluidsynth) return { synth: null, problem: `audio needs FluidSynth, which was not found on PATH; install it with: ${install}` };
  }
  const sf = where.soundfont ?? env.MUSICGEN_SOUNDFONT;
  if (sf) {
    if (!fs.existsSync(sf)) return { synth: null, problem: `SoundFont not found: ${sf}` };
    return { synth: { fluidsynth, soundfont: path.resolve(sf) }, problem: '' };
  }
  const found = SOUNDFONT_CANDIDATES.find((f) => fs.existsSync(f));
  if (!found) {
    return {
      synth: null,
      problem: `audio needs a General-MIDI SoundFont (none found in /usr/share/sounds/sf2); install it with: ${install}`,
    };
  }
  return { synth: { fluidsynth, soundfont: fs.realpathSync(found) }, problem: '' };
}

/** Finds FluidSynth and a General-MIDI SoundFont, or returns null (see {@link synthMissingReason}). */
export function findSynth(where: SynthSearch = {}): SynthInfo | null {
  return search(where).synth;
}

/** Why {@link findSynth} returns null, as the one-line error {@link renderPcm} throws ('' when a synth was found). */
export function synthMissingReason(where: SynthSearch = {}): string {
  return search(where).problem;
}

/** Options for {@link renderPcm} and {@link renderWav}. */
export interface RenderOptions extends SynthSearch {
  /** Samples per second. */
  readonly sampleRate?: number;
  /** 1 = mono (smaller, for notebooks), 2 = stereo. */
  readonly channels?: 1 | 2;
  /** FluidSynth master gain (its default is 0.2); the level is then set by normalizePeak. */
  readonly gain?: number;
  /** Seconds kept after the last note ends (release and reverb), faded out over its last part. */
  readonly tailSeconds?: number;
  /** General-MIDI program for a Piece (default: the piece's own). Ignored for MIDI bytes. */
  readonly program?: number;
  /** Scale the result so its peak is this (0–1, e.g. 0.89 ≈ −1 dBFS); 0 keeps FluidSynth's own level. */
  readonly normalizePeak?: number;
  /** FluidSynth reverb on/off. */
  readonly reverb?: boolean;
  /** Give up after this many milliseconds. */
  readonly timeoutMs?: number;
}

const DEFAULT_RENDER: Required<Omit<RenderOptions, keyof SynthSearch | 'program'>> = {
  sampleRate: 44100,
  channels: 2,
  gain: 0.5,
  tailSeconds: 1,
  normalizePeak: 0.89,
  reverb: true,
  timeoutMs: 120_000,
};

function checkOptions(o: typeof DEFAULT_RENDER): void {
  if (!Number.isInteger(o.sampleRate) || o.sampleRate < 8000 || o.sampleRate > 96000) {
    throw new UserError(`sampleRate must be an integer from 8000 to 96000 (got ${o.sampleRate})`);
  }
  if (o.channels !== 1 && o.channels !== 2) throw new UserError(`channels must be 1 or 2 (got ${o.channels})`);
  if (!(o.gain > 0 && o.gain <= 10)) throw new UserError(`gain must be a number in (0, 10] (got ${o.gain})`);
  if (!(o.normalizePeak >= 0 && o.normalizePeak <= 1)) throw new UserError(`normalizePeak must be from 0 to 1 (got ${o.normalizePeak})`);
  if (!(o.tailSeconds >= 0 && o.tailSeconds <= 30)) throw new UserError(`tailSeconds must be from 0 to 30 (got ${o.tailSeconds})`);
}

function run(exe: string, args: readonly string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new UserError(`cannot run ${exe}: ${errCode(e)}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const last =
        output
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => /error|fail|cannot|invalid/i.test(l))
          .pop() ?? '';
      const why = signal ? `killed (${signal}${signal === 'SIGKILL' ? `, over ${timeoutMs} ms` : ''})` : `exit code ${code}`;
      reject(new UserError(`fluidsynth failed (${why})${last ? `: ${last}` : ''}`));
    });
  });
}

/**
 * Trims or pads (with silence) every channel to `frames`, fading out the last
 * `fadeFrames`; optionally mixes to mono; scales to `peak` when it is > 0.
 */
function fit(audio: PcmAudio, frames: number, fadeFrames: number, channels: 1 | 2, peak: number): PcmAudio {
  const src = audio.samples;
  const out: Float32Array[] = [];
  const mix = channels === 1 && src.length > 1;
  for (let c = 0; c < (mix ? 1 : channels); c++) {
    const ch = new Float32Array(frames);
    if (mix) {
      for (const s of src) for (let i = 0; i < Math.min(frames, s.length); i++) ch[i] += s[i] / src.length;
    } else {
      const s = src[Math.min(c, src.length - 1)];
      ch.set(s.subarray(0, Math.min(frames, s.length)));
    }
    const start = Math.max(0, frames - fadeFrames);
    for (let i = start; i < frames; i++) ch[i] *= (frames - i) / Math.max(1, fadeFrames);
    out.push(ch);
  }
  let max = 0;
  for (const ch of out) for (const v of ch) max = Math.max(max, Math.abs(v));
  if (peak > 0 && max > 0) for (const ch of out) for (let i = 0; i < ch.length; i++) ch[i] *= peak / max;
  return { sampleRate: audio.sampleRate, samples: out };
}

/**
 * Renders a Piece or MIDI file bytes with FluidSynth to samples in [-1, 1]
 * (one Float32Array per channel) lasting pieceLengthSeconds + tailSeconds.
 * Throws a one-line {@link UserError} when the synth is missing (naming the
 * install command), the input holds no notes, or FluidSynth fails.
 */
export async function renderPcm(input: Uint8Array | Piece, options: RenderOptions = {}): Promise<PcmAudio> {
  const o = { ...DEFAULT_RENDER, ...options };
  checkOptions(o);
  const { synth, problem } = search(options);
  if (!synth) throw new UserError(problem);
  const piece = input instanceof Uint8Array ? parseMidi(input, 'input.mid') : input;
  if (piece.notes.length === 0) throw new UserError(`cannot render audio for "${piece.name}": it has no notes`);
  const midi =
    input instanceof Uint8Array ? input : pieceToMidiBytes(piece, options.program === undefined ? {} : { program: options.program });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-audio-'));
  try {
    const midFile = path.join(dir, 'in.mid');
    const wavFile = path.join(dir, 'out.wav');
    fs.writeFileSync(midFile, midi);
    const args = ['-ni', '-F', wavFile, '-T', 'wav', '-O', 'float', '-r', String(o.sampleRate), '-g', String(o.gain)];
    args.push('-R', o.reverb ? '1' : '0', '-C', '0', synth.soundfont, midFile);
    await run(synth.fluidsynth, args, o.timeoutMs);
    if (!fs.existsSync(wavFile)) throw new UserError('fluidsynth finished but wrote no audio file');
    const raw = decodeWav(fs.readFileSync(wavFile));
    if (raw.sampleRate !== o.sampleRate) throw new UserError(`fluidsynth wrote ${raw.sampleRate} Hz audio instead of ${o.sampleRate} Hz`);
    const frames = Math.round((pieceLengthSeconds(piece) + o.tailSeconds) * o.sampleRate);
    const fade = Math.round(Math.min(o.tailSeconds, 0.5) * o.sampleRate);
    return fit(raw, frames, fade, o.channels, o.normalizePeak);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** {@link renderPcm} written as a WAV file (16-bit PCM); same options and errors. */
export async function renderWav(input: Uint8Array | Piece, options: RenderOptions = {}): Promise<Uint8Array> {
  return encodeWav(await renderPcm(input, options));
}
