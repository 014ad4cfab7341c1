/**
 * `musicgen evaluate`: score a model on held-out MIDI against an n-gram
 * baseline, and compare music it writes with the data.
 */
import * as fs from 'node:fs';
import { currentBackend, initBackend } from '../model/backend';
import { splitByFile } from '../data/dataset';
import { compareStats, type MusicStats } from '../evaluate/metrics';
import type { ChanceStat } from '../evaluate/chance';
import { DEFAULT_EVALUATE_OPTIONS, evaluateModel, median, type EvaluateOptions } from '../evaluate/evaluate';
import { UserError } from '../core/errors';
import { showPath } from '../core/files';
import { validateControls } from '../generate/controls';
import { validateSamplingConfig } from '../generate/sample';
import { DEFAULT_RUN_SETTINGS, validateRunSettings, type GenerationSettings } from '../generate/settings';
import { NonFiniteOutput } from '../model/inference';
import { loadModel, type LoadedModel } from '../store/load';
import { asFlagError, defined, num, required, strs, type FlagSpecs, type ParsedArgs } from './args';
import { startBar } from './progress';
import { loadEncoded } from './train-data';
import { FLAG_NAMES, Interrupted, type Io, type JsonResult, round } from './shared';
import { GENERATE_FLAGS } from './generate';
import { modelArg, openRecordedFolders } from './paths';

export const EVALUATE_FLAGS: FlagSpecs = {
  model: { type: 'string', help: 'DIR model folder' },
  data: { type: 'string', multiple: true, help: "DIR held-out MIDI files to score (default: the model's own validation files)" },
  'train-data': { type: 'string', multiple: true, help: "DIR the model's training folders (default: as recorded in its config.json)" },
  samples: {
    type: 'string',
    help: `N generated pieces for the music statistics and the copy check, 0-1000; 0 = none, only the scores (default ${DEFAULT_EVALUATE_OPTIONS.samples})`,
  },
  length: GENERATE_FLAGS.length,
  temperature: GENERATE_FLAGS.temperature,
  'top-p': GENERATE_FLAGS['top-p'],
  context: GENERATE_FLAGS.context,
  'meter-changes': GENERATE_FLAGS['meter-changes'],
  'new-instruments': GENERATE_FLAGS['new-instruments'],
  seed: { type: 'string', help: `S seed for the generated samples (default ${DEFAULT_RUN_SETTINGS.seed})` },
  order: { type: 'string', help: `N n-gram baseline order (default ${DEFAULT_EVALUATE_OPTIONS.ngramOrder})` },
};

export async function evaluateCommand(a: ParsedArgs, io: Io): Promise<JsonResult> {
  const modelDir = required(a, 'model');
  const heldFolders = strs(a, 'data');
  let generate: GenerationSettings;
  try {
    generate = {
      sampling: validateSamplingConfig(defined({ temperature: num(a, 'temperature'), topP: num(a, 'top-p') })),
      controls: validateControls(
        defined({
          meterChanges: a.values['meter-changes'] === true ? true : undefined,
          newInstruments: a.values['new-instruments'] === true ? true : undefined,
        }),
      ),
      run: validateRunSettings({
        ...DEFAULT_RUN_SETTINGS,
        ...defined({ length: num(a, 'length', 'int'), context: num(a, 'context', 'int'), seed: num(a, 'seed', 'int') }),
      }),
    };
  } catch (e) {
    throw asFlagError(e, FLAG_NAMES);
  }
  const samples = num(a, 'samples', 'int') ?? DEFAULT_EVALUATE_OPTIONS.samples;
  const order = num(a, 'order', 'int') ?? DEFAULT_EVALUATE_OPTIONS.ngramOrder;
  if (samples < 0 || samples > 1000) throw new UserError(`--samples must be an integer in [0, 1000] (got ${samples})`);
  if (order < 1 || order > 10) throw new UserError(`--order must be an integer in [1, 10] (got ${order})`);
  await initBackend();
  const lm = await loadModel(modelArg(modelDir));
  try {
    return await evaluateWith(
      lm,
      showPath(lm.dir),
      heldFolders,
      { ...DEFAULT_EVALUATE_OPTIONS, samples, generate, ngramOrder: order },
      a,
      io,
    );
  } finally {
    lm.model.net.dispose();
  }
}

/** The evaluation proper, once the model is loaded. */
async function evaluateWith(
  lm: LoadedModel,
  modelDir: string,
  heldFolders: readonly string[],
  options: EvaluateOptions,
  a: ParsedArgs,
  io: Io,
): Promise<JsonResult> {
  const order = options.ngramOrder;
  const folders = lm.config.data.folders;
  const given = strs(a, 'train-data');
  const opened = given.length > 0 ? null : openRecordedFolders(folders);
  if (given.length === 0 && !opened)
    throw new UserError(
      `one of the model's training folders (${folders.join(', ')}) has a name that is not UTF-8: give them with --train-data DIR`,
    );
  const missing = folders.filter((f, i) => !fs.existsSync(opened ? opened.paths[i] : f));
  const trainFolders = opened ? opened.paths.filter((f) => fs.existsSync(f)) : given;
  if (trainFolders.length === 0)
    throw new UserError(`the model's training folders (${folders.join(', ')}) are not here: give --train-data DIR`);
  const trainCorpus = await loadEncoded(io, trainFolders, lm.vocab, lm.config.data.maxFiles, false).finally(() => opened?.close());
  const recorded = lm.config.data.trainFiles + lm.config.data.valFiles;
  const here = trainCorpus.loaded;
  if (here !== recorded) {
    io.log(
      `warning: ${modelDir} was trained on ${recorded} files (${lm.config.data.folders.join(', ')}) but ${here} are here` +
        `${missing.length > 0 ? ` (missing: ${missing.join(', ')})` : ''}: the baseline and the copy check use these ${here}` +
        ' (give --train-data DIR for each training folder; the Nottingham tunes: npm run -s download -- nottingham --out DIR)',
    );
  }
  const split = splitByFile(trainCorpus.encoded, lm.config.dataset.valFraction, lm.config.dataset.seed);
  let heldOut = split.val;
  if (heldFolders.length > 0) {
    const held = await loadEncoded(io, heldFolders, lm.vocab, undefined, true);
    if (held.loaded === 0) throw new UserError(`no usable MIDI files in ${heldFolders.join(', ')}`);
    heldOut = held.encoded;
  } else {
    io.log(`no --data given: scoring the model's own ${heldOut.length} validation files`);
  }
  const bar = startBar('evaluate', heldOut.length, io.quiet);
  const ev = await evaluateModel(
    lm.model,
    lm.vocab,
    heldOut,
    split.train,
    options,
    (stage, d, t) => {
      if (stage === 'model') bar.update(d);
      else if (d === t) io.log(`${stage} done`);
    },
    io.interrupted,
  ).catch((e: unknown) => {
    throw e instanceof NonFiniteOutput ? new UserError(`${modelDir}: ${e.message}`) : e;
  });
  bar.stop();
  if (!ev) throw new Interrupted('interrupted');
  io.log(
    `${ev.files} files, ${ev.tokens} tokens: model NLL ${ev.nll.toFixed(4)} (perplexity ${ev.perplexity.toFixed(2)}); ` +
      `${order}-gram Kneser-Ney baseline NLL ${ev.baselineNll.toFixed(4)} (perplexity ${ev.baselinePerplexity.toFixed(2)}); ` +
      `${(ev.nllImprovement * 100).toFixed(1)} % lower`,
  );
  if (ev.generated) {
    const shown: readonly ChanceStat[] = [
      'pitchClassEntropy',
      'scaleConsistency',
      'polyphony',
      'noteDensity',
      'velocitySpread',
      'onBeatShare',
      'durationMean',
      'repeatRunMax',
      'meterChangesPer100Bars',
      'barRepetition',
      'grooveConsistency',
      'programsPer1000Notes',
    ];
    const pct = (r: number | null): string => (r === null ? 'n/a' : `${r >= 0 ? '+' : ''}${(r * 100).toFixed(1)} %`);
    const versus = (label: string, data: MusicStats): ReturnType<typeof compareStats> => {
      const c = compareStats(ev.generated ?? data, data);
      io.log(
        `generated vs ${label}: ${shown.map((k) => `${k} ${round(c[k].generated, 3)} vs ${round(c[k].data, 3)} (${pct(c[k].relative)})`).join(', ')}`,
      );
      return c;
    };
    const c = ev.dataExcerpts && versus(`data excerpts of ${ev.excerptNotes} notes`, ev.dataExcerpts);
    const ch = ev.chance;
    if (ch && c) {
      const spread = (k: ChanceStat): string => {
        const r = ch.relative[k];
        const d = c[k].relative;
        const beyond = r !== null && d !== null && Math.abs(d) > r;
        return `${k} ${r === null ? 'n/a' : `±${(r * 100).toFixed(1)} %`}${beyond ? ' *' : ''}`;
      };
      io.log(
        `by chance, sets of ${ch.samples} random data excerpts of ${ch.notes} notes stray from those excerpts ` +
          `by up to (${Math.round(ch.quantile * 100)}th percentile of ${ch.draws} sets): ` +
          `${shown.map(spread).join(', ')} (* the samples stray further)`,
      );
    }
    versus('whole data pieces', ev.data);
    const t = ev.twoSample;
    if (t) {
      io.log(
        `two-sample test: a logistic regression on ${t.features.length} statistics per piece tells ${t.pieces} ` +
          `samples from ${t.pieces} data excerpts with cross-validated accuracy ${t.accuracy.toFixed(3)} ` +
          `(${t.folds} folds, mean of ${t.repeats} draws; 0.5 = cannot tell them apart); data from data: ${t.chanceAccuracy.toFixed(3)} on average, ` +
          `up to ${t.chanceQuantile === null ? 'n/a' : t.chanceQuantile.toFixed(3)} (${Math.round(t.quantile * 100)}th percentile of ${t.draws} draws)` +
          `${t.chanceQuantile !== null && t.accuracy > t.chanceQuantile ? ': the samples are told apart better than data from data by chance' : ''}`,
      );
    }
    io.log(
      `longest copy of training tokens ${ev.longestCopy} (per sample: median ${median(ev.sampleCopies) ?? 'n/a'}; ` +
        `held-out pieces of that length: median ${ev.heldOutCopyMedian ?? 'n/a'})`,
    );
  }
  return {
    files: ev.files,
    tokens: ev.tokens,
    nll: ev.nll,
    perplexity: ev.perplexity,
    baselineNll: ev.baselineNll,
    baselinePerplexity: ev.baselinePerplexity,
    baselineOrder: ev.baselineOrder,
    nllImprovement: ev.nllImprovement,
    notes: ev.notes,
    beats: ev.beats,
    nllPerNote: ev.nllPerNote,
    nllPerBeat: ev.nllPerBeat,
    baselineNllPerNote: ev.baselineNllPerNote,
    generated: ev.generated,
    data: ev.data,
    dataExcerpts: ev.dataExcerpts,
    excerptNotes: ev.excerptNotes,
    chance: ev.chance,
    twoSample: ev.twoSample,
    longestCopy: ev.longestCopy,
    sampleCopies: ev.sampleCopies,
    heldOutCopyMedian: ev.heldOutCopyMedian,
    baselineTrainFiles: split.train.length,
    backend: currentBackend()?.name,
    sampling: {
      samples: options.samples,
      length: options.generate.run.length,
      seed: options.generate.run.seed,
      temperature: ev.sampling.temperature,
      topP: ev.sampling.topP,
      context: options.generate.run.context ?? 0,
    },
    controls: options.generate.controls,
  };
}
