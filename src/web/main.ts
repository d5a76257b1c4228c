/**
 * The page: wires the live view, video files, group panel, timeline, snapshots and uploads to one analysis worker.
 * Owns UI state only; inference is in worker.ts (the same src/analyzer.ts as the CLI), drawing in overlay.ts, the
 * timeline's controls in timeline-panel.ts.
 */
import { AnalyzerClient, AnalyzerLoadError } from './analyzer-client.js';
import { TimelineChart } from './chart.js';
import { LiveView, type LiveState } from './live.js';
import { missingCapability, notice } from './messages.js';
import { groupMood } from '../aggregate/mood.js';
import { MoodPanel } from './mood-panel.js';
import { Notices } from './notices.js';
import { downloadBlob, fileStem, renderResultCard } from './results.js';
import { TimelinePanel } from './timeline-panel.js';
import { isVideoFile, VideoFileAnalysis, type VideoFileState } from './video-file.js';
import { Timeline } from '../aggregate/timeline.js';
import type { Track } from '../track/tracker.js';

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

/** What the page's controls act on, handed to each part of the wiring below. */
interface Page {
  client: AnalyzerClient;
  live: LiveView;
  videoFile: VideoFileAnalysis;
  timelinePanel: TimelinePanel;
}

/** Builds the live view, the video-file analysis and the timeline panel on one client, then wires every control. */
function wire(client: AnalyzerClient): void {
  const timelinePanel = new TimelinePanel({
    series: ui.seriesSelect,
    window: ui.windowSelect,
    exportCsv: ui.exportCsv,
    exportJson: ui.exportJson,
    clear: ui.clearTimeline,
  }, timeline, chart, client.backend.liveModel);
  const live: LiveView = new LiveView({
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
    onState: (state) => onLiveState(state, live, videoFile),
  });

  // Video files: analysed on the same stage, then seekable (video-file.ts).
  let videoSecond = -1;
  const videoFile: VideoFileAnalysis = new VideoFileAnalysis({
    video: $<HTMLVideoElement>('video'),
    stage: $('stage'),
    overlay: $('overlay'),
    status: $('video-status'),
  }, client, {
    onStart: () => {
      timelinePanel.clear();
      videoSecond = -1;
    },
    onFrame: (faces, tS) => {
      moodPanel.update(groupMood(faces));
      // One timeline sample per second of video while it is analysed (scrubbing afterwards adds none).
      if (videoFile.currentState !== 'analysing' || Math.floor(tS) <= videoSecond) return;
      videoSecond = Math.floor(tS);
      timelinePanel.add(tS * 1000, faces, videoFile.aggregateOnly);
    },
    onNotice: (n) => notices.show(n),
    onState: (state) => onVideoState(state, live),
  });

  const page: Page = { client, live, videoFile, timelinePanel };
  wireVideoBar(videoFile);
  wireLiveControls(live);
  wireViewSwitch(page);
  wireImages(page);
  // The live view's timeline: one sample a second while it runs.
  setInterval(() => {
    if (live.currentState !== 'running') return;
    timelinePanel.add(timelinePanel.sessionMs, live.tracks, live.aggregateOnly);
  }, 1000);
}

/** The live view's buttons follow its state; the camera or screen takes the stage from a video file. */
function onLiveState(state: LiveState, live: LiveView, videoFile: VideoFileAnalysis): void {
  if (state === 'starting') videoFile.close();
  const active = state === 'running' || state === 'paused';
  ui.pause.disabled = !active;
  ui.snapshot.disabled = !active;
  ui.pause.textContent = state === 'paused' ? 'Resume' : 'Pause';
  ui.pause.setAttribute('aria-pressed', String(state === 'paused'));
  ui.startCamera.textContent = active && live.source === 'camera' ? 'Stop camera' : 'Start camera';
  ui.shareScreen.textContent = active && live.source === 'screen' ? 'Stop sharing' : 'Share screen';
  if (state === 'idle') moodPanel.update(groupMood([]));
}

/** The video bar shows while a file is on the stage; its exports once the analysis is done. */
function onVideoState(state: VideoFileState, live: LiveView): void {
  ui.videoBar.hidden = state === 'idle';
  // Per-face exports stay off in aggregate-only mode, like per-face labels.
  const exportable = state === 'done' && !live.aggregateOnly;
  ui.videoExportCsv.disabled = !exportable;
  ui.videoExportJson.disabled = !exportable;
  if (state === 'idle' || state === 'failed') moodPanel.update(groupMood([]));
}

/** The video bar's Close and its `emolens video` JSON/CSV downloads. */
function wireVideoBar(videoFile: VideoFileAnalysis): void {
  ui.videoClose.addEventListener('click', () => videoFile.close());
  ui.videoExportJson.addEventListener('click', () => {
    downloadBlob(new Blob([videoFile.toJson()], { type: 'application/json' }), `${fileStem(videoFile.name)}-emolens.json`);
  });
  ui.videoExportCsv.addEventListener('click', () => {
    downloadBlob(new Blob([videoFile.toCsv()], { type: 'text/csv' }), `${fileStem(videoFile.name)}-emolens.csv`);
  });
}

/** Camera and screen start/stop, the camera list, pause, mirror and small faces. */
function wireLiveControls(live: LiveView): void {
  for (const el of [ui.startCamera, ui.shareScreen, ui.cameraSelect]) el.disabled = false;
  ui.startCamera.addEventListener('click', async () => {
    if (live.currentState !== 'idle' && live.source === 'camera') {
      live.stop();
      return;
    }
    setMirror(live, true);
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
    setMirror(live, false); // a mirrored screen share would flip every text on it
    await live.startScreen();
  });
  ui.pause.addEventListener('click', () => (live.currentState === 'paused' ? live.resume() : live.pause()));
  ui.mirror.addEventListener('change', () => setMirror(live, ui.mirror.checked));
  ui.smallFaces.addEventListener('change', () => (live.smallFaces = ui.smallFaces.checked));
}

/** Mirrors the live view or not; the Mirror checkbox follows. */
function setMirror(live: LiveView, on: boolean): void {
  ui.mirror.checked = on;
  live.mirror = on;
  live.redraw();
}

/** The camera choices, once a camera is allowed (labels are empty before that). */
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

/** The individual/group view radios and the aggregate-only switch. */
function wireViewSwitch(page: Page): void {
  // Group view turns aggregate-only on; it stays a separate switch so a consenting group can still opt out.
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="view"]')) {
    radio.addEventListener('change', () => {
      if (!radio.checked) return;
      document.body.dataset.view = radio.value;
      setAggregateOnly(page, radio.value === 'group');
    });
  }
  ui.aggregateOnly.addEventListener('change', () => setAggregateOnly(page, ui.aggregateOnly.checked));
  document.body.dataset.view = 'individual';
}

/** Aggregate-only on or off everywhere: the live view, the video file and its exports, the timeline's series. */
function setAggregateOnly({ live, videoFile, timelinePanel }: Page, on: boolean): void {
  ui.aggregateOnly.checked = on;
  live.aggregateOnly = on;
  videoFile.aggregateOnly = on;
  onVideoState(videoFile.currentState, live);
  document.body.classList.toggle('aggregate-only', on);
  timelinePanel.setAggregateOnly(on);
  live.redraw();
  videoFile.redraw();
}

/** Snapshots of the live view, and chosen or dropped files: images to result cards, videos to the stage. */
function wireImages(page: Page): void {
  const { live } = page;
  ui.snapshot.addEventListener('click', async () => {
    const frame = live.grabFrame();
    if (!frame) return;
    const name = `snapshot ${new Date().toLocaleTimeString([], { hour12: false })}`;
    await analyzeAndShow(page, frame, name, live.source);
  });
  ui.fileInput.addEventListener('change', () => {
    const files = [...(ui.fileInput.files ?? [])];
    ui.fileInput.value = '';
    void analyzeFiles(page, files);
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
    void analyzeFiles(page, [...(e.dataTransfer?.files ?? [])]);
  });
}

/** Each file in turn: a video is analysed on the stage, an image (scaled to MAX_UPLOAD_SIDE) becomes a result card. */
async function analyzeFiles(page: Page, files: Iterable<File>): Promise<void> {
  for (const file of files) {
    if (isVideoFile(file)) {
      await analyseVideo(page, file);
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
    await analyzeAndShow(page, canvas, file.name, 'upload');
  }
}

/** A video file takes the stage from the live view and is analysed with its small-faces and aggregate-only settings. */
async function analyseVideo({ live, videoFile }: Page, file: File): Promise<void> {
  live.stop();
  setMirror(live, false); // a file plays as recorded
  for (const code of ['video-unreadable', 'video-too-long'] as const) notices.clear(code);
  await videoFile.analyse(file, { smallFaces: live.smallFaces, aggregateOnly: live.aggregateOnly });
}

/** One image through the full model to a result card (a notice when it has no face or the analysis fails). */
async function analyzeAndShow({ client, live }: Page, image: HTMLCanvasElement, name: string, source: 'camera' | 'screen' | 'upload'): Promise<void> {
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
