/**
 * The page: wires the live view, video files, group panel, timeline, snapshots and uploads to one analysis worker.
 * Owns UI state only; inference is in worker.ts (the same src/analyzer.ts as the CLI), drawing in overlay.ts.
 */
import { AnalyzerClient, AnalyzerLoadError } from './analyzer-client.js';
import { TimelineChart } from './chart.js';
import { LiveView, type LiveState } from './live.js';
import { missingCapability, notice } from './messages.js';
import { groupMood } from '../aggregate/mood.js';
import { MoodPanel } from './mood-panel.js';
import { Notices } from './notices.js';
import { downloadBlob, fileStem, renderResultCard } from './results.js';
import { isVideoFile, VideoFileAnalysis, type VideoFileState } from './video-file.js';
import { Timeline } from '../aggregate/timeline.js';
import { DEFAULT_SMOOTHING, type Track } from '../track/tracker.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
};

/** Dropped images larger than this (long side, px) are scaled down first: a 50 MP photo would need 200 MB of RGBA. */
const MAX_UPLOAD_SIDE = 4096;

const notices = new Notices($('notices'));
const moodPanel = new MoodPanel($('mood-title').closest('aside')!);
const timeline = new Timeline();
const chart = new TimelineChart($<HTMLCanvasElement>('timeline-chart'));
const ui = {
  startCamera: $<HTMLButtonElement>('start-camera'),
  cameraSelect: $<HTMLSelectElement>('camera-select'),
  shareScreen: $<HTMLButtonElement>('share-screen'),
  pause: $<HTMLButtonElement>('pause'),
  snapshot: $<HTMLButtonElement>('snapshot'),
  mirror: $<HTMLInputElement>('mirror'),
  smallFaces: $<HTMLInputElement>('small-faces'),
  aggregateOnly: $<HTMLInputElement>('aggregate-only'),
  seriesSelect: $<HTMLSelectElement>('series-select'),
  windowSelect: $<HTMLSelectElement>('window-select'),
  exportCsv: $<HTMLButtonElement>('export-csv'),
  exportJson: $<HTMLButtonElement>('export-json'),
  clearTimeline: $<HTMLButtonElement>('clear-timeline'),
  backend: $('backend'),
  resultList: $('result-list'),
  dropzone: $('dropzone'),
  fileInput: $<HTMLInputElement>('file-input'),
  modelLine: $('model-line'),
  videoBar: $('video-bar'),
  videoExportCsv: $<HTMLButtonElement>('video-export-csv'),
  videoExportJson: $<HTMLButtonElement>('video-export-json'),
  videoClose: $<HTMLButtonElement>('video-close'),
};

moodPanel.update(groupMood([]));
chart.update(timeline);
void boot();

async function boot(): Promise<void> {
  const missing = missingCapability(globalThis as unknown as Parameters<typeof missingCapability>[0]);
  if (missing) {
    notices.show(missing);
    setBackend('unsupported', 'unsupported browser');
    ui.dropzone.classList.add('disabled');
    return;
  }
  let client: AnalyzerClient;
  try {
    client = await AnalyzerClient.start((message) => setBackend('loading', message));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    notices.show(err instanceof AnalyzerLoadError && err.phase === 'runtime' ? notice('runtime-failed', message) : notice('model-failed', message));
    setBackend('failed', 'models failed to load');
    ui.dropzone.classList.add('disabled');
    return;
  }
  const b = client.backend;
  const runtime = b.executionProvider === 'webgpu' ? 'WebGPU' : `WebAssembly SIMD, ${b.threads} thread${b.threads === 1 ? '' : 's'}`;
  const oneModel = b.liveModel === b.emotionModel;
  setBackend('ready', `${runtime} · ${oneModel ? b.emotionModel : `${b.liveModel} live, ${b.emotionModel}`}`);
  ui.backend.title = `Models loaded in ${Math.round(client.loadMs)} ms`;
  const accuracy = (value: number | undefined): string => (value ? ` (FER2013 validation accuracy ${(100 * value).toFixed(1)}%)` : '');
  const models = oneModel
    ? `Emotion model ${b.emotionModel}${accuracy(b.emotionAccuracy)}`
    : `Live view: emotion model ${b.liveModel}${accuracy(b.liveAccuracy)} · snapshots and images: ${b.emotionModel}${accuracy(b.emotionAccuracy)}`;
  ui.modelLine.textContent = `${models} · face detector BlazeFace · ONNX Runtime Web on ${runtime}. Runs entirely in your browser.`;
  if (b.liveFallback) notices.show(notice('live-model-fallback', `${b.liveFallback}; live frames are read by ${b.emotionModel}`));
  wire(client);
}

function setBackend(state: string, text: string): void {
  ui.backend.dataset.state = state;
  ui.backend.textContent = text;
}

function wire(client: AnalyzerClient): void {
  const live = new LiveView({
    video: $<HTMLVideoElement>('video'),
    stage: $('stage'),
    overlay: $('overlay'),
    fps: $('stat-fps'),
    ms: $('stat-ms'),
    faces: $('stat-faces'),
    size: $('stat-size'),
    model: $('stat-model'),
  }, client, {
    onTracks: throttle((tracks: Track[]) => moodPanel.update(groupMood(tracks)), 250),
    onNotice: (n) => notices.show(n),
    clearNotice: (code) => notices.clear(code),
    onState: (state) => onLiveState(state),
  });

  // ---- video files: analysed on the same stage, then seekable (video-file.ts) -----------------------------------
  let videoSecond = -1;
  const videoFile = new VideoFileAnalysis({
    video: $<HTMLVideoElement>('video'),
    stage: $('stage'),
    overlay: $('overlay'),
    status: $('video-status'),
  }, client, {
    onStart: () => {
      clearTimeline();
      videoSecond = -1;
    },
    onFrame: (faces, tS) => {
      moodPanel.update(groupMood(faces));
      // One timeline sample per second of video while it is analysed (scrubbing afterwards adds none).
      if (videoFile.currentState !== 'analysing' || Math.floor(tS) <= videoSecond) return;
      videoSecond = Math.floor(tS);
      timeline.add({
        tMs: tS * 1000,
        group: groupMood(faces),
        faces: videoFile.aggregateOnly ? [] : faces.map((f) => ({ id: f.id, emotions: { ...f.emotions }, dominant: f.dominant })),
      });
      refreshSeriesOptions();
      chart.update(timeline);
      for (const b of [ui.exportCsv, ui.exportJson, ui.clearTimeline]) b.disabled = false;
    },
    onNotice: (n) => notices.show(n),
    onState: (state) => onVideoState(state),
  });

  function onVideoState(state: VideoFileState): void {
    ui.videoBar.hidden = state === 'idle';
    // Per-face exports stay off in aggregate-only mode, like per-face labels.
    const exportable = state === 'done' && !live.aggregateOnly;
    ui.videoExportCsv.disabled = !exportable;
    ui.videoExportJson.disabled = !exportable;
    if (state === 'idle' || state === 'failed') moodPanel.update(groupMood([]));
  }
  ui.videoClose.addEventListener('click', () => videoFile.close());
  ui.videoExportJson.addEventListener('click', () => {
    downloadBlob(new Blob([videoFile.toJson()], { type: 'application/json' }), `${fileStem(videoFile.name)}-emolens.json`);
  });
  ui.videoExportCsv.addEventListener('click', () => {
    downloadBlob(new Blob([videoFile.toCsv()], { type: 'text/csv' }), `${fileStem(videoFile.name)}-emolens.csv`);
  });

  async function analyseVideo(file: File): Promise<void> {
    live.stop();
    setMirror(false); // a file plays as recorded
    for (const code of ['video-unreadable', 'video-too-long'] as const) notices.clear(code);
    await videoFile.analyse(file, { smallFaces: live.smallFaces, aggregateOnly: live.aggregateOnly });
  }

  function onLiveState(state: LiveState): void {
    if (state === 'starting') videoFile.close(); // the camera or screen takes the stage
    const active = state === 'running' || state === 'paused';
    ui.pause.disabled = !active;
    ui.snapshot.disabled = !active;
    ui.pause.textContent = state === 'paused' ? 'Resume' : 'Pause';
    ui.pause.setAttribute('aria-pressed', String(state === 'paused'));
    ui.startCamera.textContent = active && live.source === 'camera' ? 'Stop camera' : 'Start camera';
    ui.shareScreen.textContent = active && live.source === 'screen' ? 'Stop sharing' : 'Share screen';
    if (state === 'idle') moodPanel.update(groupMood([]));
  }

  for (const el of [ui.startCamera, ui.shareScreen, ui.cameraSelect]) el.disabled = false;

  ui.startCamera.addEventListener('click', async () => {
    if (live.currentState !== 'idle' && live.source === 'camera') {
      live.stop();
      return;
    }
    setMirror(true);
    if (await live.startCamera(ui.cameraSelect.value || undefined)) await listCameras(live.cameraDeviceId());
  });
  ui.cameraSelect.addEventListener('change', async () => {
    if (live.source === 'camera' && live.currentState !== 'idle') await live.startCamera(ui.cameraSelect.value || undefined);
  });
  ui.shareScreen.addEventListener('click', async () => {
    if (live.currentState !== 'idle' && live.source === 'screen') {
      live.stop();
      return;
    }
    setMirror(false); // a mirrored screen share would flip every text on it
    await live.startScreen();
  });
  ui.pause.addEventListener('click', () => (live.currentState === 'paused' ? live.resume() : live.pause()));
  ui.mirror.addEventListener('change', () => setMirror(ui.mirror.checked));
  ui.smallFaces.addEventListener('change', () => (live.smallFaces = ui.smallFaces.checked));

  function setMirror(on: boolean): void {
    ui.mirror.checked = on;
    live.mirror = on;
    live.redraw();
  }

  // Group view turns aggregate-only on; it stays a separate switch so a consenting group can still opt out.
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="view"]')) {
    radio.addEventListener('change', () => {
      if (!radio.checked) return;
      document.body.dataset.view = radio.value;
      setAggregateOnly(radio.value === 'group');
    });
  }
  ui.aggregateOnly.addEventListener('change', () => setAggregateOnly(ui.aggregateOnly.checked));

  function setAggregateOnly(on: boolean): void {
    ui.aggregateOnly.checked = on;
    live.aggregateOnly = on;
    videoFile.aggregateOnly = on;
    onVideoState(videoFile.currentState);
    document.body.classList.toggle('aggregate-only', on);
    if (on) {
      ui.seriesSelect.value = 'group';
      chart.series = 'group';
      chart.update(timeline);
    }
    ui.seriesSelect.disabled = on;
    live.redraw();
    videoFile.redraw();
  }
  document.body.dataset.view = 'individual';

  ui.snapshot.addEventListener('click', async () => {
    const frame = live.grabFrame();
    if (!frame) return;
    const name = `snapshot ${new Date().toLocaleTimeString([], { hour12: false })}`;
    await analyzeAndShow(frame, name, live.source);
  });

  async function analyzeAndShow(image: HTMLCanvasElement, name: string, source: 'camera' | 'screen' | 'upload'): Promise<void> {
    try {
      const { result, model, ms, saliency } = await client.analyze(await createImageBitmap(image));
      renderResultCard(ui.resultList, { name, source, image, result, ms, aggregateOnly: live.aggregateOnly, model, saliency });
      // Its own code, so the live view (which clears 'no-face' whenever it sees a face) cannot hide it.
      if (result.faces.length === 0) notices.show(notice('no-face-in-image', name));
      else notices.clear('no-face-in-image');
    } catch (err) {
      notices.show(notice('analysis-failed', `${name}: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  // ---- uploads ------------------------------------------------------------------------------------------------
  const analyzeFiles = async (files: Iterable<File>): Promise<void> => {
    for (const file of files) {
      if (isVideoFile(file)) {
        await analyseVideo(file);
        continue;
      }
      let bitmap: ImageBitmap;
      try {
        bitmap = await createImageBitmap(file);
      } catch {
        notices.show(notice('not-an-image', file.name));
        continue;
      }
      const scale = Math.min(1, MAX_UPLOAD_SIDE / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement('canvas');
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext('2d')?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      await analyzeAndShow(canvas, file.name, 'upload');
    }
  };
  ui.fileInput.addEventListener('change', () => {
    const files = [...(ui.fileInput.files ?? [])];
    ui.fileInput.value = '';
    void analyzeFiles(files);
  });
  // The whole page accepts drops, so a miss by a few pixels does not open the image in a new tab.
  window.addEventListener('dragover', (e) => {
    e.preventDefault();
    ui.dropzone.classList.add('over');
  });
  window.addEventListener('dragleave', (e) => {
    if (!e.relatedTarget) ui.dropzone.classList.remove('over');
  });
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    ui.dropzone.classList.remove('over');
    void analyzeFiles([...(e.dataTransfer?.files ?? [])]);
  });

  // ---- timeline -----------------------------------------------------------------------------------------------
  let sessionStart = performance.now();
  setInterval(() => {
    if (live.currentState !== 'running') return;
    const tracks = live.tracks;
    timeline.add({
      tMs: performance.now() - sessionStart,
      group: groupMood(tracks),
      faces: live.aggregateOnly ? [] : tracks.map((t) => ({ id: t.id, emotions: { ...t.emotions }, dominant: t.dominant })),
    });
    refreshSeriesOptions();
    chart.update(timeline);
    for (const b of [ui.exportCsv, ui.exportJson, ui.clearTimeline]) b.disabled = false;
  }, 1000);

  function refreshSeriesOptions(): void {
    const ids = timeline.faceIds();
    const have = new Set([...ui.seriesSelect.options].map((o) => o.value));
    for (const id of ids) {
      if (have.has(String(id))) continue;
      const option = document.createElement('option');
      option.value = String(id);
      option.textContent = `Face #${id}`;
      ui.seriesSelect.append(option);
    }
  }
  ui.seriesSelect.addEventListener('change', () => {
    chart.series = ui.seriesSelect.value === 'group' ? 'group' : Number(ui.seriesSelect.value);
    chart.update(timeline);
  });
  ui.windowSelect.addEventListener('change', () => {
    chart.windowSeconds = Number(ui.windowSelect.value);
    chart.update(timeline);
  });
  const stamp = (): string => timeline.startedAt.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  ui.exportCsv.addEventListener('click', () => {
    downloadBlob(new Blob([timeline.toCsv()], { type: 'text/csv' }), `emolens-timeline-${stamp()}.csv`);
  });
  ui.exportJson.addEventListener('click', () => {
    // The timeline follows the live view and video files: the live model's readings.
    const json = timeline.toJson({ model: client.backend.liveModel, smoothing: { ...DEFAULT_SMOOTHING } });
    downloadBlob(new Blob([json], { type: 'application/json' }), `emolens-timeline-${stamp()}.json`);
  });
  ui.clearTimeline.addEventListener('click', () => clearTimeline());
  function clearTimeline(): void {
    timeline.clear();
    sessionStart = performance.now();
    for (const o of [...ui.seriesSelect.options]) if (o.value !== 'group') o.remove();
    chart.series = 'group';
    chart.update(timeline);
  }

  async function listCameras(activeId?: string): Promise<void> {
    let devices: MediaDeviceInfo[];
    try {
      devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
    } catch {
      return;
    }
    ui.cameraSelect.innerHTML = '';
    devices.forEach((d, i) => {
      const option = document.createElement('option');
      option.value = d.deviceId;
      option.textContent = d.label || `Camera ${i + 1}`;
      ui.cameraSelect.append(option);
    });
    if (activeId) ui.cameraSelect.value = activeId;
  }
}

function throttle<A extends unknown[]>(fn: (...args: A) => void, ms: number): (...args: A) => void {
  let last = 0;
  return (...args: A) => {
    const now = performance.now();
    if (now - last >= ms) {
      last = now;
      fn(...args);
    }
  };
}
