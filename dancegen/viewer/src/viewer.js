// The dancegen viewer: plays one dance (joint positions per frame) in 3D, in sync with its music.
//
// page.py embeds everything in the HTML page as a JSON block (#dancegen-data); esbuild bundles
// this file with three.js at build time, so a page needs no network. The page exposes
// `window.dancegenViewer` for tests and scripts (poseAt, shownPose, seek, play, ...).

import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

const BONE_RADIUS = 0.018; // metres: reads as a limb at the default camera distance
const JOINT_RADIUS = 0.028;
const AUDIO_DRIFT_S = 0.05; // re-anchor the clock to the music when they drift further apart
const AUDIO_START_TIMEOUT_MS = 1500; // music that has not started by then is left behind
const SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];

// --- data ---------------------------------------------------------------------------------

function decodeFloat32(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

function readData() {
  const data = JSON.parse(document.getElementById("dancegen-data").textContent);
  data.positions = decodeFloat32(data.positions); // (T * J * 3), frame-major
  data.numJoints = data.parents.length;
  data.duration = data.num_frames / data.fps;
  return data;
}

// Frame i is shown during [i / fps, (i + 1) / fps), the convention of dancegen's Motion.
function frameAt(data, t) {
  const frame = Math.floor(t * data.fps + 1e-6);
  return Math.min(Math.max(frame, 0), data.num_frames - 1);
}

function poseAt(data, t) {
  const J = data.numJoints;
  const start = frameAt(data, t) * J * 3;
  const pose = [];
  for (let j = 0; j < J; j++) {
    const k = start + 3 * j;
    pose.push([data.positions[k], data.positions[k + 1], data.positions[k + 2]]);
  }
  return pose;
}

// --- clock --------------------------------------------------------------------------------

// Wall-clock time scaled by the speed, re-anchored to the music while it plays so that the
// dance follows the audio (and keeps going on its own after the music ends or if it cannot play).
// On play the dance holds still until the music has really started, so they start together.
class Clock {
  constructor(duration, audio, musicStart) {
    this.duration = duration;
    this.audio = audio;
    this.musicStart = musicStart;
    this.speed = 1;
    this.playing = false;
    this.anchorTime = 0;
    this.anchorWall = performance.now();
    this.waitingSince = null; // when play() started waiting for the music
    if (audio) {
      audio.addEventListener("playing", () => this.stopWaiting(audio.currentTime - musicStart));
      // Pressed play before the song's length was known: join in now.
      audio.addEventListener("loadedmetadata", () => this.playing && this.syncAudio(this.time()));
    }
  }

  stopWaiting(t) {
    if (this.waitingSince === null) return;
    this.waitingSince = null;
    this.reanchor(t);
  }

  waiting() {
    if (this.waitingSince !== null && performance.now() - this.waitingSince > AUDIO_START_TIMEOUT_MS) {
      this.stopWaiting(this.anchorTime);
    }
    return this.waitingSince !== null;
  }

  time() {
    if (!this.playing || this.waiting()) return this.anchorTime;
    const t = this.anchorTime + ((performance.now() - this.anchorWall) / 1000) * this.speed;
    return Math.min(t, this.duration);
  }

  reanchor(t) {
    this.anchorTime = Math.min(Math.max(t, 0), this.duration);
    this.anchorWall = performance.now();
  }

  audioCovers(t) {
    const a = this.audio;
    return a && Number.isFinite(a.duration) && t + this.musicStart < a.duration;
  }

  syncAudio(t) {
    const a = this.audio;
    if (!a) return;
    if (this.playing && this.audioCovers(t)) {
      if (Math.abs(a.currentTime - this.musicStart - t) > AUDIO_DRIFT_S) a.currentTime = t + this.musicStart;
      // Blocked autoplay or undecodable audio: the dance plays on silently.
      if (a.paused) a.play().catch(() => this.stopWaiting(this.anchorTime));
    } else if (!a.paused) {
      a.pause();
    }
  }

  play() {
    if (this.anchorTime >= this.duration) this.anchorTime = 0;
    this.reanchor(this.anchorTime);
    this.playing = true;
    if (this.audioCovers(this.anchorTime)) this.waitingSince = performance.now();
    this.syncAudio(this.anchorTime);
  }

  pause() {
    this.reanchor(this.time());
    this.waitingSince = null;
    this.playing = false;
    this.syncAudio(this.anchorTime);
  }

  seek(t) {
    this.reanchor(t);
    if (this.audio && this.audioCovers(this.anchorTime)) this.audio.currentTime = this.anchorTime + this.musicStart;
    this.syncAudio(this.anchorTime);
  }

  setSpeed(speed) {
    this.reanchor(this.time());
    this.speed = speed;
    if (this.audio) this.audio.playbackRate = speed;
  }

  // Called once per animation frame: follow the music while it is really playing.
  tick() {
    const a = this.audio;
    if (this.playing && a && !a.paused && !a.seeking && a.readyState >= 2) {
      const audioTime = a.currentTime - this.musicStart;
      if (Math.abs(audioTime - this.time()) < 1) this.reanchor(audioTime);
    }
    const t = this.time();
    if (this.playing && t >= this.duration) this.pause();
    return this.time();
  }
}

// --- 3D scene -----------------------------------------------------------------------------

function buildScene(container, data) {
  const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(window.devicePixelRatio);
  container.appendChild(renderer.domElement);

  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0x1d2127);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x40444c, 2.2));
  const sun = new THREE.DirectionalLight(0xffffff, 1.6);
  sun.position.set(3, 6, 4);
  scene.add(sun);

  const camera = new THREE.PerspectiveCamera(45, 1, 0.05, 200);
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.enableDamping = true;

  const J = data.numJoints;
  const bones = data.parents.map((p, j) => [p, j]).filter(([p]) => p >= 0);
  const material = new THREE.MeshStandardMaterial({ color: 0xf0b35e, roughness: 0.55, metalness: 0.05 });
  const jointMaterial = new THREE.MeshStandardMaterial({ color: 0x6fb7ff, roughness: 0.4 });
  const joints = new THREE.InstancedMesh(new THREE.SphereGeometry(JOINT_RADIUS, 16, 12), jointMaterial, J);
  // A unit cylinder along +Y from 0 to 1, stretched onto each bone every frame.
  const boneGeometry = new THREE.CylinderGeometry(BONE_RADIUS, BONE_RADIUS, 1, 12).translate(0, 0.5, 0);
  const limbs = new THREE.InstancedMesh(boneGeometry, material, Math.max(bones.length, 1));
  limbs.count = bones.length;
  for (const mesh of [joints, limbs]) {
    mesh.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
    mesh.frustumCulled = false; // instances move far from the geometry's own bounds
    scene.add(mesh);
  }

  // Frame the whole dance: its floor-projected extent.
  const box = new THREE.Box3();
  const p = new THREE.Vector3();
  for (let k = 0; k < data.positions.length; k += 3) box.expandByPoint(p.fromArray(data.positions, k));
  const center = box.getCenter(new THREE.Vector3());
  const size = box.getSize(new THREE.Vector3());
  const distance = Math.max(2.5, 1.4 * Math.max(size.x, size.y, size.z));
  controls.target.set(center.x, center.y, center.z);
  // From the dancer's front (data.front, the floor direction the chest mostly faces), a little
  // to the dancer's left as seen by the camera, and above.
  const [frontX, frontZ] = data.front || [0, 1];
  const [sideX, sideZ] = [frontZ, -frontX];
  camera.position.set(
    center.x + distance * (frontX + 0.35 * sideX),
    center.y + 0.3 * distance,
    center.z + distance * (frontZ + 0.35 * sideZ),
  );
  // Half a metre squares under the whole dance, kept inside the camera's circle: software
  // renderers (headless Chromium) drop lines that cross the camera plane.
  const gridSize = 2 * Math.ceil(Math.max(size.x, size.z) / 2 + 1);
  const grid = new THREE.GridHelper(gridSize, 2 * gridSize, 0x8a94a6, 0x3a414d);
  grid.position.set(center.x, box.min.y, center.z);
  scene.add(grid);
  controls.update();

  const up = new THREE.Vector3(0, 1, 0);
  const matrix = new THREE.Matrix4();
  const quaternion = new THREE.Quaternion();
  const a = new THREE.Vector3();
  const b = new THREE.Vector3();
  const direction = new THREE.Vector3();
  const unit = new THREE.Vector3(1, 1, 1);
  const scale = new THREE.Vector3();

  function setPose(frame) {
    const base = frame * J * 3;
    for (let j = 0; j < J; j++) {
      a.fromArray(data.positions, base + 3 * j);
      joints.setMatrixAt(j, matrix.compose(a, quaternion.identity(), unit));
    }
    bones.forEach(([parent, child], i) => {
      a.fromArray(data.positions, base + 3 * parent);
      b.fromArray(data.positions, base + 3 * child);
      direction.subVectors(b, a);
      const length = direction.length();
      quaternion.setFromUnitVectors(up, length > 1e-9 ? direction.divideScalar(length) : up);
      limbs.setMatrixAt(i, matrix.compose(a, quaternion, scale.set(1, Math.max(length, 1e-6), 1)));
    });
    joints.instanceMatrix.needsUpdate = true;
    limbs.instanceMatrix.needsUpdate = true;
  }

  // Joint positions as drawn, read back from the instanced meshes (what a test should check).
  function shownPose() {
    const pose = [];
    for (let j = 0; j < J; j++) {
      joints.getMatrixAt(j, matrix);
      pose.push(a.setFromMatrixPosition(matrix).toArray());
    }
    return pose;
  }

  function resize() {
    const { clientWidth: w, clientHeight: h } = container;
    renderer.setSize(w, h, false);
    camera.aspect = w / Math.max(h, 1);
    camera.updateProjectionMatrix();
  }

  function render() {
    controls.update();
    renderer.render(scene, camera);
  }

  return { setPose, shownPose, resize, render, canvas: renderer.domElement };
}

// --- controls and timeline ----------------------------------------------------------------

function formatTime(t) {
  const minutes = Math.floor(t / 60);
  return `${minutes}:${(t - 60 * minutes).toFixed(2).padStart(5, "0")}`;
}

function addTimelineMarks(track, data) {
  const percent = (t) => `${(100 * Math.min(Math.max(t / data.duration, 0), 1)).toFixed(3)}%`;
  for (const span of data.spans) {
    const mark = document.createElement("div");
    mark.className = "span";
    mark.style.left = percent(span.start);
    mark.style.width = `calc(${percent(span.end)} - ${percent(span.start)})`;
    mark.title = span.text;
    track.appendChild(mark);
  }
  for (const beat of data.beats) {
    if (beat < 0 || beat > data.duration) continue;
    const mark = document.createElement("div");
    mark.className = "beat";
    mark.style.left = percent(beat);
    track.appendChild(mark);
  }
}

function activePrompt(data, t) {
  const texts = data.spans.filter((s) => s.start <= t && t < s.end).map((s) => s.text);
  return texts.join(" · ");
}

function main() {
  const data = readData();
  document.title = data.title ? `${data.title} · dancegen` : "dancegen";
  document.getElementById("title").textContent = data.title || "dancegen";
  document.getElementById("style").textContent = data.style || "";

  let audio = null;
  if (data.music) {
    audio = document.getElementById("music");
    audio.src = data.music.src;
    audio.preload = "auto";
  }
  const clock = new Clock(data.duration, audio, data.music ? data.music.start : 0);
  const view = buildScene(document.getElementById("stage"), data);

  const playButton = document.getElementById("play");
  const scrub = document.getElementById("scrub");
  const timeLabel = document.getElementById("time");
  const speed = document.getElementById("speed");
  const prompt = document.getElementById("prompt");
  scrub.max = String(data.duration);
  scrub.step = String(1 / data.fps);
  addTimelineMarks(document.getElementById("marks"), data);
  for (const s of SPEEDS) speed.add(new Option(`${s}×`, String(s), s === 1, s === 1));

  const togglePlay = () => (clock.playing ? clock.pause() : clock.play());
  playButton.addEventListener("click", togglePlay);
  scrub.addEventListener("input", () => clock.seek(Number(scrub.value)));
  speed.addEventListener("change", () => clock.setSpeed(Number(speed.value)));
  window.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
    if (event.code === "Space") togglePlay();
    else if (event.code === "ArrowRight") clock.seek(clock.time() + 1);
    else if (event.code === "ArrowLeft") clock.seek(clock.time() - 1);
    else return;
    event.preventDefault();
  });
  window.addEventListener("resize", view.resize);
  view.resize();

  let shownFrame = -1;
  let shownPrompt = null;
  function update() {
    const t = clock.tick();
    const frame = frameAt(data, t);
    if (frame !== shownFrame) {
      view.setPose(frame);
      shownFrame = frame;
    }
    const text = activePrompt(data, t);
    if (text !== shownPrompt) {
      prompt.textContent = text;
      shownPrompt = text;
    }
    if (document.activeElement !== scrub) scrub.value = String(t);
    timeLabel.textContent = `${formatTime(t)} / ${formatTime(data.duration)}`;
    playButton.textContent = clock.playing ? "❚❚" : "▶";
    playButton.setAttribute("aria-label", clock.playing ? "pause" : "play");
    view.render();
  }

  function loop() {
    update();
    requestAnimationFrame(loop);
  }
  update();
  requestAnimationFrame(loop);

  window.dancegenViewer = {
    data,
    fps: data.fps,
    duration: data.duration,
    numFrames: data.num_frames,
    frameAt: (t) => frameAt(data, t),
    poseAt: (t) => poseAt(data, t),
    shownFrame: () => shownFrame,
    shownPose: view.shownPose,
    currentTime: () => clock.time(),
    isPlaying: () => clock.playing,
    activePrompt: (t) => activePrompt(data, t),
    play: () => clock.play(),
    pause: () => clock.pause(),
    // Seek and draw at once, so that shownPose() reflects `t` right after the call.
    seek: (t) => {
      clock.seek(t);
      update();
    },
    setSpeed: (s) => clock.setSpeed(s),
    ready: true,
  };
}

main();
