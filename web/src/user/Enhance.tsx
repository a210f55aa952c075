// Submit an enhancement (an uploaded image, dropped or chosen, or a URL), follow it until it ends, and
// show the result beside the input. The credit is held at submit, so the balance drops at once.
import { useEffect, useRef, useState } from 'react';
import { ApiProblem, unwrap, type Api, type Schemas } from '../api/client';
import { Busy, Notice, ProblemNotice, asProblem, useAction } from '../shared/ui';

type EnhancementType = NonNullable<Schemas['GenerationRequest']['enhancementType']>;
type Task = Schemas['Task'];
// `satisfies` makes this list exhaustive: a type added to the API breaks the build until it is named here.
const TYPES = { lighting: 'Lighting', style: 'Style', background: 'Background', mood: 'Mood', custom: 'Custom (your prompt)' } satisfies Record<
  EnhancementType,
  string
>;
const POLL_MS = 1000;

/** `paused`: the operator's message while new generations are paused (the button is disabled then). */
export function Enhance({
  api,
  paused,
  onSubmitted,
  onSettled,
  onPaused,
}: {
  api: Api['api'];
  paused: string | undefined;
  onSubmitted: () => void;
  onSettled: () => void;
  onPaused: () => void;
}) {
  const [source, setSource] = useState<'upload' | 'url'>('upload');
  const [file, setFile] = useState<File>();
  const [preview, setPreview] = useState<string>();
  const [url, setUrl] = useState('');
  const [type, setType] = useState<EnhancementType>('lighting');
  const [prompt, setPrompt] = useState('');
  const [strength, setStrength] = useState(0.6);
  const [task, setTask] = useState<Task>();
  const [inputShown, setInputShown] = useState<string>();
  const [pollProblem, setPollProblem] = useState<ApiProblem>();

  const choose = (chosen: File | undefined) => {
    if (preview) URL.revokeObjectURL(preview);
    setFile(chosen);
    setPreview(chosen ? URL.createObjectURL(chosen) : undefined);
  };

  const submit = useAction(() =>
    sendSubmission().catch((error: unknown) => {
      // A pause that began since the page last asked: refused with 503, so ask for the status again now.
      if (asProblem(error).status === 503) onPaused();
      throw error;
    }),
  );
  const sendSubmission = async () => {
    setTask(undefined);
    setPollProblem(undefined);
    const fields = { enhancementType: type, prompt: prompt.trim() || undefined, strength };
    let accepted: { task: Task; remainingBalance: number };
    if (source === 'upload') {
      if (!file) throw new ApiProblem(400, 'client', 'Choose or drop an image first.');
      const form = new FormData();
      form.set('image', file, file.name);
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.set(k, String(v));
      accepted = await unwrap(api.POST('/v1/generations', { body: fields, bodySerializer: () => form }));
      setInputShown(preview);
    } else {
      accepted = await unwrap(api.POST('/v1/generations', { body: { ...fields, inputImageUrl: url.trim() } }));
      setInputShown(url.trim());
    }
    setTask(accepted.task);
    onSubmitted();
  };

  // Follow the task until it ends; a failed poll is shown and retried, never taken as the outcome.
  const ended = task && (task.status === 'completed' || task.status === 'failed');
  const taskId = task?.id;
  const settled = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (!taskId || ended) return undefined;
    let stopped = false;
    const timer = setTimeout(async () => {
      try {
        const next = await unwrap(api.GET('/v1/generations/{id}', { params: { path: { id: taskId } } }));
        if (!stopped) {
          setTask(next);
          setPollProblem(undefined);
        }
      } catch (error) {
        if (!stopped) {
          setPollProblem(asProblem(error));
          setTask((t) => (t ? { ...t } : t));
        }
      }
    }, POLL_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [api, taskId, ended, task]);
  useEffect(() => {
    if (ended && settled.current !== taskId) {
      settled.current = taskId;
      onSettled();
    }
  }, [ended, taskId, onSettled]);

  const outOfCredits = submit.problem?.status === 402;
  return (
    <section className="card" aria-labelledby="enhance-title">
      <h2 id="enhance-title">Enhance an image</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit.run();
        }}
      >
        <fieldset className="field" style={{ border: 0, padding: 0, margin: '0 0 .75rem' }}>
          <legend style={{ fontWeight: 600, marginBottom: '.25rem' }}>Image</legend>
          <div className="row">
            <label className="row" style={{ fontWeight: 400 }}>
              <input type="radio" name="source" checked={source === 'upload'} onChange={() => setSource('upload')} /> Upload
            </label>
            <label className="row" style={{ fontWeight: 400 }}>
              <input type="radio" name="source" checked={source === 'url'} onChange={() => setSource('url')} /> From a URL
            </label>
          </div>
        </fieldset>
        {source === 'upload' ? (
          <DropZone file={file} preview={preview} onFile={choose} />
        ) : (
          <div className="field">
            <label htmlFor="image-url">Image URL</label>
            <input id="image-url" type="url" placeholder="https://…" value={url} onChange={(e) => setUrl(e.target.value)} required />
          </div>
        )}
        <div className="cols">
          <div className="field">
            <label htmlFor="type">Enhancement</label>
            <select id="type" value={type} onChange={(e) => setType(e.target.value as EnhancementType)}>
              {Object.entries(TYPES).map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="strength">
              Strength <span className="num">{Math.round(strength * 100)}%</span>
            </label>
            <input id="strength" type="range" min={0} max={1} step={0.05} value={strength} onChange={(e) => setStrength(Number(e.target.value))} />
          </div>
        </div>
        <div className="field">
          <label htmlFor="prompt">
            Prompt <span className="hint">(optional; what you want changed)</span>
          </label>
          <textarea id="prompt" maxLength={5000} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        </div>
        <Busy
          busy={submit.busy}
          type="submit"
          disabled={Boolean(task && !ended) || paused !== undefined}
          aria-describedby={paused ? 'enhance-paused' : undefined}
        >
          Enhance (1 credit)
        </Busy>
        {paused && (
          <span id="enhance-paused" className="small muted" data-testid="enhance-paused" style={{ marginLeft: '.5rem' }}>
            {paused}
          </span>
        )}
      </form>
      {outOfCredits ? (
        <Notice kind="warn" title="You are out of credits.">
          {submit.problem!.detail} <a href="#packages">Buy a package</a> to continue, or wait for your monthly allowance.
        </Notice>
      ) : (
        <ProblemNotice problem={submit.problem} what="Submitting" />
      )}
      {task && <Progress task={task} problem={pollProblem} input={inputShown} />}
    </section>
  );
}

function DropZone({ file, preview, onFile }: { file: File | undefined; preview: string | undefined; onFile: (file: File | undefined) => void }) {
  const [over, setOver] = useState(false);
  return (
    <div
      className={`drop field${over ? ' over' : ''}`}
      data-testid="dropzone"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        const dropped = e.dataTransfer.files[0];
        if (dropped) onFile(dropped);
      }}
    >
      <p style={{ fontWeight: 600 }}>Drop an image here</p>
      {/* The native input stays focusable and labelled; only its "No file chosen" text is hidden. */}
      <input id="image-file" className="file-input" type="file" accept="image/*" onChange={(e) => onFile(e.target.files?.[0])} />
      <label htmlFor="image-file" className="button secondary" style={{ marginBottom: 0 }}>
        {file ? 'Choose another image' : 'Choose an image'}
      </label>
      {file && (
        <div className="row" style={{ justifyContent: 'center', marginTop: '.5rem' }} aria-live="polite">
          {preview && <img className="thumb" src={preview} alt="" />}
          <span className="small">
            {file.name} ({Math.ceil(file.size / 1024)} kB)
          </span>
        </div>
      )}
    </div>
  );
}

const STEPS: Record<Task['status'], { label: string; percent: number | null }> = {
  queued: { label: 'Queued: waiting for a worker', percent: 20 },
  processing: { label: 'Processing: the provider is working on it', percent: null },
  completed: { label: 'Done', percent: 100 },
  failed: { label: 'Failed', percent: 100 },
};

function Progress({ task, problem, input }: { task: Task; problem: ApiProblem | undefined; input: string | undefined }) {
  const step = STEPS[task.status];
  return (
    <div className="stack" style={{ marginTop: '1rem' }}>
      <div>
        <p role="status" aria-live="polite" data-testid="task-status">
          {task.status === 'completed' || task.status === 'failed' ? null : <span className="spinner" aria-hidden="true" />} {step.label}
        </p>
        <div className="progress" role="progressbar" aria-label="Progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={step.percent ?? undefined}>
          <div className={`bar${step.percent === null ? ' indeterminate' : ''}`} style={step.percent === null ? undefined : { width: `${step.percent}%` }} />
        </div>
      </div>
      {problem && <Notice kind="warn">Could not check on the task ({problem.detail}); trying again.</Notice>}
      {task.status === 'failed' && (
        <Notice kind="bad" title="The enhancement failed.">
          {task.errorMessage ?? 'The providers could not complete it.'} Your credit was refunded; try again, or with another image.
        </Notice>
      )}
      {task.degraded && (
        <Notice kind="warn" title="Basic adjustment only.">
          {task.degradedReason ?? 'The AI providers were unavailable.'} You got a simple local adjustment instead, free of charge.
        </Notice>
      )}
      {task.status === 'completed' && task.resultUrl && (
        <div className="images" data-testid="result">
          <figure>
            {input ? <img src={input} alt="Your image before" /> : <div className="skeleton" style={{ aspectRatio: '4 / 3' }} />}
            <figcaption>Before</figcaption>
          </figure>
          <figure>
            <img src={task.resultUrl} alt="Your image after the enhancement" />
            <figcaption className="row" style={{ justifyContent: 'space-between' }}>
              <span>
                After · {task.provider === 'local' ? 'local adjustment (not AI)' : task.provider} · {task.creditsCharged} credit
                {task.creditsCharged === 1 ? '' : 's'}
              </span>
              <a className="button secondary" href={task.resultUrl} download={`enhanced-${task.id}`}>
                Download
              </a>
            </figcaption>
          </figure>
        </div>
      )}
    </div>
  );
}
