// The dancegen viewer: plays one dance, or several on one song, in 3D and in sync with the music.
//
// page.py embeds everything in the HTML page as a JSON block (#dancegen-data): per dance its
// joint positions per frame, the capsules to draw on its rig, its texts and its downloads.
// esbuild bundles this file with three.js at build time, so a page needs no network. The page
// exposes `window.dancegenViewer` for tests and scripts (poseAt, shownPose, seek, play, ...).
//
// URL query: ?autoplay (plays at once, and loops unless loop=0), ?loop, ?layout=side|overlay,
// ?t=SECONDS (start there), ?speed=X.

import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

const AUDIO_DRIFT_S = 0.05; // re-anchor the clock to the music when they drift further apart
const AUDIO_START_TIMEOUT_MS = 1500; // music that has not started by then is left behind
const SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];
const LAYOUTS = ["side", "overlay"];
// Per dance: the trunk, the dancer's left and right. Left is cool and right warm in every
// palette, so sides read the same way on every figure; the trunk tells the dances apart.
const PALETTES = [
  { trunk: 0xe9e3d6, left: 0x4d9fff, right: 0xff8a4c },
  { trunk: 0x7fe0c0, left: 0x8c7dff, right: 0xffcf4a },
  { trunk: 0xff9fc8, left: 0x35c5dc, right: 0xff5c5c },
  { trunk: 0xc8e27a, left: 0x6d8cff, right: 0xffa07a },
];
const VISOR_COLOR = 0x1b2029;
// The trunk's capsules are this much wider (along the shoulders) and deeper than round.
const TRUNK_WIDTH = 1.35;
const TRUNK_DEPTH = 0.8;
const LABEL_ROOM_M = 0.3; // over a figure's head, for its label
const MIN_RADIUS_M = 0.35; // a figure's floor footprint, at least its arms' span
const SIDE_GAP_M = 0.45; // between the footprints of two figures side by side
const FLOOR_MARGIN_M = 2.5; // floor beyond the figures, fading out
const GRID_STEP_M = 0.5;
const FOV_DEGREES = 38;
const HEIGHT_QUANTILE = 0.9; // a jump or raised arms do not zoom the camera out

// --- data ---------------------------------------------------------------------------------

function decodeBase64(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function readData() {
  const data = JSON.parse(document.getElementById("dancegen-data").textContent);
  for (const dance of data.dances) {
    dance.positions = new Float32Array(decodeBase64(dance.positions).buffer); // (T * J * 3), frame-major
    dance.numJoints = dance.parents.length;
    dance.duration = dance.num_frames / dance.fps;
  }
  // Dances of different lengths share one timeline; one that has ended holds its last pose.
  data.duration = Math.max(...data.dances.map((d) => d.duration));
  return data;
}

// Frame i is shown during [i / fps, (i + 1) / fps), the convention of dancegen's Motion.
function frameAt(dance, t) {
  const frame = Math.floor(t * dance.fps + 1e-6);
  return Math.min(Math.max(frame, 0), dance.num_frames - 1);
}

function jointAt(dance, frame, joint, target = new THREE.Vector3()) {
  return target.fromArray(dance.positions, (frame * dance.numJoints + joint) * 3);
}

function poseAt(dance, t) {
  const frame = frameAt(dance, t);
  return Array.from({ length: dance.numJoints }, (_, j) => jointAt(dance, frame, j).toArray());
}

function quantile(values, q) {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

// Where a dance happens: floor centre and footprint radius, floor height, figure height.
function extent(dance) {
  const { positions, numJoints: J, num_frames: T } = dance;
  let minX = Infinity, maxX = -Infinity, minZ = Infinity, maxZ = -Infinity, floor = Infinity;
  const tops = new Float64Array(T);
  for (let f = 0; f < T; f++) {
    let top = -Infinity;
    for (let j = 0; j < J; j++) {
      const k = (f * J + j) * 3;
      const [x, y, z] = [positions[k], positions[k + 1], positions[k + 2]];
      minX = Math.min(minX, x); maxX = Math.max(maxX, x);
      minZ = Math.min(minZ, z); maxZ = Math.max(maxZ, z);
      floor = Math.min(floor, y);
      top = Math.max(top, y);
    }
    tops[f] = top;
  }
  const centre = [(minX + maxX) / 2, (minZ + maxZ) / 2];
  let radius = MIN_RADIUS_M;
  for (let k = 0; k < positions.length; k += 3) {
    radius = Math.max(radius, Math.hypot(positions[k] - centre[0], positions[k + 2] - centre[1]));
  }
  return { centre, floor, radius, height: quantile(tops, HEIGHT_QUANTILE) - floor };
}

const yaw = ([x, z]) => Math.atan2(x, z);

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
    this.loop = false;
    this.anchorTime = 0;
    this.anchorWall = performance.now();
    this.waitingSince = null; // when play() started waiting for the music
    this.onAudioBlocked = () => {}; // the browser refused to start the music (no click yet)
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
      if (a.paused) {
        a.play().catch((error) => {
          this.stopWaiting(this.anchorTime);
          if (error && error.name === "NotAllowedError") this.onAudioBlocked();
        });
      }
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

  // Called once per animation frame: follow the music while it is really playing; at the end
  // stop, or start again from the top when looping.
  tick() {
    const a = this.audio;
    if (this.playing && a && !a.paused && !a.seeking && a.readyState >= 2) {
      const audioTime = a.currentTime - this.musicStart;
      if (Math.abs(audioTime - this.time()) < 1) this.reanchor(audioTime);
    }
    if (this.playing && this.time() >= this.duration) {
      if (this.loop) this.seek(0);
      else this.pause();
    }
    return this.time();
  }
}

// --- one figure ---------------------------------------------------------------------------

function sideMaterials(palette) {
  const material = (color) => new THREE.MeshStandardMaterial({ color, roughness: 0.5, metalness: 0.05 });
  return { [-1]: material(palette.left), [0]: material(palette.trunk), [1]: material(palette.right) };
}

const UP = new THREE.Vector3(0, 1, 0);

// One dance drawn as capsules (one per bone, at the bone's radius), a head sphere and a visor
// that shows where the face looks. `root` places the dance in the scene; inside it `local`
// holds the data's own coordinates, so every mesh is set from the embedded numbers directly.
class Figure {
  constructor(dance, palette) {
    this.dance = dance;
    this.extent = extent(dance);
    this.root = new THREE.Group();
    this.local = new THREE.Group();
    this.local.position.set(-this.extent.centre[0], -this.extent.floor, -this.extent.centre[1]);
    this.root.add(this.local);
    const materials = sideMaterials(palette);
    this.bones = dance.body.bones.map(([parent, child, radius, side, turnWith]) => {
      // A bone keeps its length under FK (a trunk segment nearly): the first frame gives the
      // capsule its length, stretched to fit later frames.
      const length = Math.max(jointAt(dance, 0, child).distanceTo(jointAt(dance, 0, parent)), 1e-4);
      const mesh = new THREE.Mesh(new THREE.CapsuleGeometry(radius, length, 4, 12), materials[side]);
      mesh.castShadow = true;
      this.local.add(mesh);
      return { parent, child, length, mesh, line: turnWith ? dance.body[turnWith] : null };
    });
    this.head = null;
    if (dance.body.head) {
      const { joint, radius, lift } = dance.body.head;
      const mesh = new THREE.Mesh(new THREE.SphereGeometry(radius, 24, 16), materials[0]);
      mesh.castShadow = true;
      this.local.add(mesh);
      let visor = null;
      if (dance.body.shoulders) {
        visor = new THREE.Mesh(new THREE.SphereGeometry(radius, 20, 12),
          new THREE.MeshStandardMaterial({ color: VISOR_COLOR, roughness: 0.2, metalness: 0.3 }));
        visor.scale.set(0.78, 0.36, 0.5);
        this.local.add(visor);
      }
      this.head = { joint, radius, lift, mesh, visor, parent: dance.parents[joint] };
    }
    // Above the highest joint: the head sphere, then the label.
    this.headroom = (this.head ? this.head.lift + this.head.radius : 0) + LABEL_ROOM_M;
    this.frame = -1;
  }

  setFrame(frame) {
    if (frame === this.frame) return;
    this.frame = frame;
    const a = new THREE.Vector3(), b = new THREE.Vector3(), direction = new THREE.Vector3();
    for (const bone of this.bones) {
      jointAt(this.dance, frame, bone.parent, a);
      jointAt(this.dance, frame, bone.child, b);
      direction.subVectors(b, a);
      const length = direction.length();
      if (length > 1e-9) direction.divideScalar(length);
      else direction.copy(UP);
      bone.mesh.position.addVectors(a, b).multiplyScalar(0.5);
      const stretch = Math.max(length, 1e-6) / bone.length;
      if (bone.line && this.turnAlong(bone.mesh, direction, frame, bone.line)) {
        bone.mesh.scale.set(TRUNK_WIDTH, stretch, TRUNK_DEPTH);
      } else {
        bone.mesh.quaternion.setFromUnitVectors(UP, direction);
        bone.mesh.scale.set(1, stretch, 1);
      }
    }
    if (this.head) this.placeHead(frame);
  }

  // Turn a capsule about its own axis so that its local x runs along the (left, right) joints'
  // line: then scaling x widens the trunk across the body. False when that line is degenerate.
  turnAlong(mesh, axis, frame, [left, right]) {
    const across = jointAt(this.dance, frame, left).sub(jointAt(this.dance, frame, right));
    across.addScaledVector(axis, -across.dot(axis));
    if (across.lengthSq() < 1e-12) return false;
    across.normalize();
    const depth = new THREE.Vector3().crossVectors(across, axis);
    mesh.quaternion.setFromRotationMatrix(new THREE.Matrix4().makeBasis(across, axis, depth));
    return true;
  }

  placeHead(frame) {
    const { joint, lift, mesh, visor, parent, radius } = this.head;
    const head = jointAt(this.dance, frame, joint);
    const up = parent >= 0 ? head.clone().sub(jointAt(this.dance, frame, parent)).normalize() : UP.clone();
    mesh.position.copy(head).addScaledVector(up, lift);
    if (!visor) return;
    // Facing as in dancegen.motion.facing: forward = up x (right shoulder - left shoulder).
    const [left, right] = this.dance.body.shoulders;
    const across = jointAt(this.dance, frame, right).sub(jointAt(this.dance, frame, left));
    across.addScaledVector(up, -across.dot(up)).normalize();
    const forward = new THREE.Vector3().crossVectors(up, across);
    const toLeft = across.clone().negate(); // (left, up, forward) is right-handed
    visor.quaternion.setFromRotationMatrix(new THREE.Matrix4().makeBasis(toLeft, up, forward));
    visor.position.copy(mesh.position).addScaledVector(forward, 0.62 * radius).addScaledVector(up, 0.12 * radius);
  }

  // Joint positions as drawn, read back from the capsules' ends, in the data's coordinates
  // (null for a joint no capsule reaches): what a test compares with the data.
  shownPose() {
    const pose = Array(this.dance.numJoints).fill(null);
    const axis = new THREE.Vector3();
    for (const { parent, child, length, mesh } of this.bones) {
      axis.copy(UP).applyQuaternion(mesh.quaternion).multiplyScalar((length * mesh.scale.y) / 2);
      pose[parent] = mesh.position.clone().sub(axis).toArray();
      pose[child] = mesh.position.clone().add(axis).toArray();
    }
    return pose;
  }

  worldJoint(joint) {
    this.root.updateMatrixWorld(true);
    return jointAt(this.dance, Math.max(this.frame, 0), joint).applyMatrix4(this.local.matrixWorld);
  }

  worldJoints() {
    this.root.updateMatrixWorld(true);
    const frame = Math.max(this.frame, 0);
    return Array.from({ length: this.dance.numJoints }, (_, j) => jointAt(this.dance, frame, j).applyMatrix4(this.local.matrixWorld));
  }

  // Where the label floats now (world): over the head, and over a hand raised above it.
  labelAnchor() {
    const joints = this.worldJoints();
    const anchor = (this.head ? joints[this.head.joint] : joints[0]).clone();
    const headTop = this.head ? this.head.mesh.getWorldPosition(new THREE.Vector3()).y + this.head.radius : -Infinity;
    anchor.y = Math.max(headTop, ...joints.map((p) => p.y)) + 0.12;
    return anchor;
  }
}

// --- the stage: floor, lights, camera and where each figure stands ------------------------

// A round floor that fades into the backdrop, with half-metre lines. Drawn by a small shader
// (no lighting, no texture): the floor fills most of the screen, and a lit or textured one costs
// a software renderer (headless Chromium) most of its frame time. Lines as geometry would also
// be dropped by such renderers where they cross the camera plane.
const FLOOR_VERTEX = `
  varying vec2 vFloor;
  void main() {
    vFloor = (modelMatrix * vec4(position, 1.0)).xz;
    gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
  }`;
const FLOOR_FRAGMENT = `
  uniform float radius;
  uniform float spacing;
  uniform vec3 centreColor;
  uniform vec3 edgeColor;
  uniform vec3 lineColor;
  varying vec2 vFloor;
  void main() {
    float r = length(vFloor) / radius;
    vec2 cell = vFloor / spacing;
    vec2 distance = abs(fract(cell - 0.5) - 0.5) / fwidth(cell); // to the nearest line, in pixels
    float line = 1.0 - min(min(distance.x, distance.y), 1.0);
    vec3 color = mix(centreColor, edgeColor, smoothstep(0.0, 0.7, r));
    color = mix(color, lineColor, 0.3 * line);
    gl_FragColor = vec4(color, 1.0 - smoothstep(0.35, 1.0, r));
  }`;

function floorMesh(radius) {
  // Written to the screen as given (the shader has no colour management): sRGB components.
  const srgb = (hex) => new THREE.Vector3((hex >> 16) & 255, (hex >> 8) & 255, hex & 255).divideScalar(255);
  const floor = new THREE.Mesh(
    new THREE.CircleGeometry(radius, 96),
    new THREE.ShaderMaterial({
      vertexShader: FLOOR_VERTEX,
      fragmentShader: FLOOR_FRAGMENT,
      uniforms: {
        radius: { value: radius },
        spacing: { value: GRID_STEP_M },
        centreColor: { value: srgb(0x4d5564) },
        edgeColor: { value: srgb(0x262b34) },
        lineColor: { value: srgb(0x9aa6ba) },
      },
      transparent: true,
      depthWrite: false,
    }),
  );
  floor.rotation.x = -Math.PI / 2;
  floor.renderOrder = -2;
  return floor;
}

// Where the figures' shadows fall: a square that draws nothing but the shadow, just over the
// floor. It follows the figures (`Stage.followShadows`) so that only pixels near them pay for
// the shadow lookups.
function shadowCatcher() {
  const catcher = new THREE.Mesh(
    new THREE.PlaneGeometry(1, 1),
    new THREE.ShadowMaterial({ color: 0x07090c, opacity: 0.55, depthWrite: false }),
  );
  catcher.rotation.x = -Math.PI / 2;
  catcher.position.y = 0.001;
  catcher.receiveShadow = true;
  catcher.renderOrder = -1;
  return catcher;
}

function dispose(mesh) {
  mesh.geometry.dispose();
  mesh.material.dispose();
}

class Stage {
  constructor(container, figures) {
    this.container = container;
    this.figures = figures;
    // Transparent: the page's CSS paints the backdrop behind the canvas, at no cost to the GPU.
    this.renderer = new THREE.WebGLRenderer({ antialias: true, alpha: true, preserveDrawingBuffer: true });
    this.renderer.setClearColor(0x000000, 0);
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    this.renderer.shadowMap.enabled = true;
    this.renderer.shadowMap.type = THREE.PCFShadowMap;
    container.appendChild(this.renderer.domElement);

    this.scene = new THREE.Scene();
    this.scene.add(new THREE.HemisphereLight(0xe4ecff, 0x2b2622, 1.3));
    this.key = new THREE.DirectionalLight(0xfff4e6, 2.4);
    this.key.castShadow = true;
    this.key.shadow.mapSize.set(1024, 1024);
    this.key.shadow.radius = 9; // soft edges (PCF samples a disc this many texels wide)
    this.key.shadow.bias = -0.0005;
    this.key.shadow.normalBias = 0.025; // no self-shadow speckles on the curved limbs
    this.rim = new THREE.DirectionalLight(0xa8c8ff, 1.3); // from behind: outlines the figure
    this.scene.add(this.key, this.key.target, this.rim, this.rim.target);
    for (const figure of figures) this.scene.add(figure.root);

    this.camera = new THREE.PerspectiveCamera(FOV_DEGREES, 1, 0.05, 200);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.enableDamping = true;
    this.userMoved = false; // once the user turns the view, resizing keeps it
    this.controls.addEventListener("start", () => (this.userMoved = true));
    this.floor = null;
    this.catcher = shadowCatcher();
    this.scene.add(this.catcher);
    // Everyone faces the first dance's front, and the camera looks at it.
    this.front = figures[0].dance.front || [0, 1];
    this.right = new THREE.Vector3(this.front[1], 0, -this.front[0]); // screen right, seen from the front
  }

  // Stand the figures next to each other along the screen's width ("side") or all on the
  // floor's centre ("overlay"), each turned to face the first one's front.
  arrange(layout) {
    this.layout = layout;
    const visible = this.figures.filter((f) => f.root.visible);
    const slots = [];
    let x = 0;
    visible.forEach((figure, i) => {
      if (i > 0 && layout === "side") x += visible[i - 1].extent.radius + figure.extent.radius + SIDE_GAP_M;
      slots.push(layout === "side" ? x : 0);
    });
    const middle = slots.length ? (slots[0] + slots[slots.length - 1]) / 2 : 0;
    let halfWidth = 0, depth = 0, height = 1;
    visible.forEach((figure, i) => {
      const along = slots[i] - middle;
      figure.root.position.copy(this.right).multiplyScalar(along);
      figure.root.rotation.y = yaw(this.front) - yaw(figure.dance.front || [0, 1]);
      halfWidth = Math.max(halfWidth, Math.abs(along) + figure.extent.radius);
      depth = Math.max(depth, figure.extent.radius);
      height = Math.max(height, figure.extent.height + figure.headroom);
    });
    this.bounds = { halfWidth, depth, height };
    this.placeFloorAndLights();
    this.fitCamera();
  }

  placeFloorAndLights() {
    const { halfWidth, depth, height } = this.bounds;
    const radius = Math.max(halfWidth, depth) + FLOOR_MARGIN_M;
    if (this.floor) {
      this.scene.remove(this.floor);
      dispose(this.floor);
    }
    this.floor = floorMesh(radius);
    this.scene.add(this.floor);
    // The key light from above, in front and to the side: the shadow falls behind the dancers,
    // where the camera sees it on the floor.
    const [fx, fz] = this.front;
    const lightAt = (forward, side, up) => new THREE.Vector3(fx * forward, up, fz * forward).addScaledVector(this.right, side);
    this.key.position.copy(lightAt(2.5, -2, 7));
    this.rim.position.copy(lightAt(-4, 1.5, 3));
    const shadow = this.key.shadow.camera;
    const reach = Math.max(halfWidth, depth) + height; // covers every shadow
    [shadow.left, shadow.right, shadow.bottom, shadow.top] = [-reach, reach, -reach, reach];
    shadow.near = 0.5;
    shadow.far = 20;
    shadow.updateProjectionMatrix();
  }

  // Fit the shadow catcher to where the key light throws the figures' shadows now: each joint
  // projected along the light onto the floor, plus a margin for the limbs' thickness and blur.
  followShadows() {
    const toLight = this.key.position.clone().sub(this.key.target.position).normalize();
    const [dx, dz] = [toLight.x / toLight.y, toLight.z / toLight.y];
    let minX = Infinity, maxX = -Infinity, minZ = Infinity, maxZ = -Infinity;
    for (const figure of this.figures) {
      if (!figure.root.visible) continue;
      for (const p of figure.worldJoints()) {
        const height = Math.max(p.y, 0);
        for (const [x, z] of [[p.x, p.z], [p.x - height * dx, p.z - height * dz]]) {
          minX = Math.min(minX, x); maxX = Math.max(maxX, x);
          minZ = Math.min(minZ, z); maxZ = Math.max(maxZ, z);
        }
      }
    }
    this.catcher.visible = Number.isFinite(minX);
    if (!this.catcher.visible) return;
    const margin = 0.35;
    this.catcher.position.set((minX + maxX) / 2, 0.001, (minZ + maxZ) / 2);
    this.catcher.scale.set(maxX - minX + 2 * margin, maxZ - minZ + 2 * margin, 1); // the plane's y is the floor's z
  }

  // From the front, a little to the side and above, far enough for every figure to fit.
  fitCamera() {
    const { halfWidth, depth, height } = this.bounds;
    const aspect = this.camera.aspect;
    const tanHalf = Math.tan(THREE.MathUtils.degToRad(FOV_DEGREES / 2));
    // The view spans from a little under the floor to a little over the labels.
    const distance = depth + Math.max(0.6 * height / tanHalf, (halfWidth + 0.3) / (tanHalf * aspect), 2.2);
    const [fx, fz] = this.front;
    // One dancer is seen a little from the side (more depth); dancers being compared straight
    // from the front, so that none stands nearer the camera than another.
    const aside = this.figures.filter((f) => f.root.visible).length > 1 && this.layout === "side" ? 0.06 : 0.3;
    const direction = new THREE.Vector3(fx, 0.3, fz).addScaledVector(this.right, aside).normalize();
    this.controls.target.set(0, 0.47 * height, 0);
    this.camera.position.copy(this.controls.target).addScaledVector(direction, distance);
    this.camera.near = 0.05;
    this.camera.far = 10 * distance + 50;
    this.camera.updateProjectionMatrix();
    this.controls.update();
  }

  resize() {
    const { clientWidth: w, clientHeight: h } = this.container;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / Math.max(h, 1);
    this.camera.updateProjectionMatrix();
    if (!this.userMoved && this.bounds) this.fitCamera();
  }

  // CSS pixels in the stage of a world point (y down).
  toScreen(point) {
    const p = point.clone().project(this.camera);
    const { clientWidth: w, clientHeight: h } = this.container;
    return [((p.x + 1) / 2) * w, ((1 - p.y) / 2) * h];
  }

  render() {
    this.controls.update();
    this.renderer.render(this.scene, this.camera);
  }
}

// --- controls, timeline, labels, downloads -------------------------------------------------

const cssColor = (hex) => `#${hex.toString(16).padStart(6, "0")}`;

function formatTime(t) {
  const minutes = Math.floor(t / 60);
  return `${minutes}:${(t - 60 * minutes).toFixed(2).padStart(5, "0")}`;
}

function addTimelineMarks(track, data) {
  const percent = (t) => `${(100 * Math.min(Math.max(t / data.duration, 0), 1)).toFixed(3)}%`;
  const several = data.dances.length > 1;
  data.dances.forEach((dance, i) => {
    for (const span of dance.spans) {
      const mark = document.createElement("div");
      mark.className = "span";
      mark.style.left = percent(span.start);
      mark.style.width = `calc(${percent(span.end)} - ${percent(span.start)})`;
      if (several) {
        mark.style.top = `${6 * i}px`; // one row per dance, in its colour
        mark.style.background = cssColor(PALETTES[i % PALETTES.length].trunk);
      }
      mark.title = several ? `${dance.label}: ${span.text}` : span.text;
      track.appendChild(mark);
    }
  });
  for (const beat of data.beats) {
    if (beat < 0 || beat > data.duration) continue;
    const mark = document.createElement("div");
    mark.className = "beat";
    mark.style.left = percent(beat);
    track.appendChild(mark);
  }
}

function activePrompt(data, t) {
  const several = data.dances.length > 1;
  const texts = [];
  for (const dance of data.dances) {
    for (const span of dance.spans) {
      if (span.start <= t && t < span.end) texts.push(several ? `${dance.label}: ${span.text}` : span.text);
    }
  }
  return texts.join(" · ");
}

// One pill per figure, kept above its head on screen (stacked when the figures overlap).
function makeLabels(container, figures) {
  return figures.map((figure, i) => {
    const label = document.createElement("div");
    label.className = "label";
    label.textContent = figure.dance.label;
    label.style.background = cssColor(PALETTES[i % PALETTES.length].trunk);
    container.appendChild(label);
    return label;
  });
}

function placeLabels(stage, figures, labels) {
  let stacked = 0;
  figures.forEach((figure, i) => {
    const label = labels[i];
    label.hidden = !figure.root.visible;
    if (label.hidden) return;
    const [x, y] = stage.toScreen(figure.labelAnchor());
    const lift = stage.layout === "overlay" ? stacked++ * 1.6 : 0;
    label.style.transform = `translate(${x.toFixed(1)}px, ${y.toFixed(1)}px) translate(-50%, calc(-100% - ${lift}em))`;
  });
}

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// The embedded file, inflated by the browser (page.py gzips it).
async function downloadBlob(file) {
  const stream = new Blob([decodeBase64(file.gzip)]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Blob([await new Response(stream).arrayBuffer()], { type: file.type });
}

function makeDownloads(menu, data, stage) {
  const list = menu.querySelector(".items");
  const button = (text, title, action) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.title = title;
    b.addEventListener("click", () => {
      menu.open = false;
      action();
    });
    list.appendChild(b);
    return b;
  };
  for (const dance of data.dances) {
    for (const file of dance.downloads) {
      const b = button(file.name, `save ${dance.label} as ${file.name}`, async () => saveBlob(await downloadBlob(file), file.name));
      b.dataset.file = file.name;
    }
  }
  const picture = button("picture (.png)", "save what the stage shows now", () => {
    stage.render(); // the buffer holds the latest frame (preserveDrawingBuffer)
    stage.renderer.domElement.toBlob((blob) => saveBlob(blob, `${data.title || "dance"}.png`), "image/png");
  });
  picture.dataset.file = "png";
}

function makeLegend(legend, data, onToggle) {
  data.dances.forEach((dance, i) => {
    const item = document.createElement("button");
    item.type = "button";
    item.className = "dancer";
    item.title = "show or hide this dance";
    item.setAttribute("aria-pressed", "true");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = cssColor(PALETTES[i % PALETTES.length].trunk);
    const name = document.createElement("span");
    name.textContent = dance.label;
    item.append(swatch, name);
    if (dance.style) {
      const style = document.createElement("span");
      style.className = "dim";
      style.textContent = dance.style;
      item.append(style);
    }
    item.addEventListener("click", () => item.setAttribute("aria-pressed", String(onToggle(i))));
    legend.appendChild(item);
  });
}

function readQuery() {
  const params = new URLSearchParams(window.location.search);
  const flag = (name) => params.has(name) && !["0", "false", "no", "off"].includes(params.get(name).toLowerCase());
  const number = (name) => (params.has(name) ? Number(params.get(name)) : NaN);
  const autoplay = flag("autoplay");
  return {
    autoplay,
    loop: params.has("loop") ? flag("loop") : autoplay, // a page left playing on its own keeps going
    layout: params.get("layout"),
    start: number("t"),
    speed: number("speed"),
  };
}

// --- the page -----------------------------------------------------------------------------

function main() {
  const data = readData();
  const query = readQuery();
  const byId = (id) => document.getElementById(id);
  const several = data.dances.length > 1;
  document.title = data.title ? `${data.title} · dancegen` : "dancegen";
  byId("title").textContent = data.title || "dancegen";
  byId("style").textContent = several ? "" : data.dances[0].style || "";

  let audio = null;
  if (data.music) {
    audio = byId("music");
    audio.src = data.music.src;
    audio.preload = "auto";
  }
  const clock = new Clock(data.duration, audio, data.music ? data.music.start : 0);
  const figures = data.dances.map((dance, i) => new Figure(dance, PALETTES[i % PALETTES.length]));
  const stage = new Stage(byId("stage"), figures);
  const labels = makeLabels(byId("labels"), figures);
  let layout = LAYOUTS.includes(query.layout) ? query.layout : LAYOUTS.includes(data.layout) ? data.layout : "side";

  const playButton = byId("play");
  const loopButton = byId("loop");
  const layoutButton = byId("layout");
  const scrub = byId("scrub");
  const timeLabel = byId("time");
  const speed = byId("speed");
  const prompt = byId("prompt");
  const soundHint = byId("sound");
  scrub.max = String(data.duration);
  scrub.step = String(1 / Math.max(...data.dances.map((d) => d.fps)));
  addTimelineMarks(byId("marks"), data);
  for (const s of SPEEDS) speed.add(new Option(`${s}×`, String(s), s === 1, s === 1));
  makeDownloads(byId("downloads"), data, stage);

  const setLayout = (name) => {
    layout = LAYOUTS.includes(name) ? name : "side";
    stage.arrange(layout);
    layoutButton.textContent = layout === "side" ? "side by side" : "overlay";
    layoutButton.title = `switch to ${layout === "side" ? "overlay" : "side by side"}`;
  };
  const setLoop = (on) => {
    clock.loop = Boolean(on);
    loopButton.setAttribute("aria-pressed", String(clock.loop));
  };
  layoutButton.hidden = !several;
  if (several) {
    makeLegend(byId("legend"), data, (i) => {
      figures[i].root.visible = !figures[i].root.visible;
      stage.arrange(layout);
      return figures[i].root.visible;
    });
    layoutButton.addEventListener("click", () => setLayout(layout === "side" ? "overlay" : "side"));
  }
  setLoop(query.loop);
  loopButton.addEventListener("click", () => setLoop(!clock.loop));

  // The browser would not start the music without a click: the dance goes on silently, and
  // the first click or key press anywhere brings the sound in.
  clock.onAudioBlocked = () => {
    soundHint.hidden = false;
    const unblock = () => {
      soundHint.hidden = true;
      clock.syncAudio(clock.time());
    };
    window.addEventListener("pointerdown", unblock, { once: true, capture: true });
    window.addEventListener("keydown", unblock, { once: true, capture: true });
  };

  const togglePlay = () => (clock.playing ? clock.pause() : clock.play());
  playButton.addEventListener("click", togglePlay);
  scrub.addEventListener("input", () => clock.seek(Number(scrub.value)));
  speed.addEventListener("change", () => clock.setSpeed(Number(speed.value)));
  window.addEventListener("keydown", (event) => {
    // A focused control handles its own keys (Space on a focused button clicks it).
    if (event.target instanceof Element && event.target.closest("input, select, button, summary")) return;
    if (event.code === "Space") togglePlay();
    else if (event.code === "ArrowRight") clock.seek(clock.time() + 1);
    else if (event.code === "ArrowLeft") clock.seek(clock.time() - 1);
    else if (event.code === "KeyL") setLoop(!clock.loop);
    else return;
    event.preventDefault();
  });
  window.addEventListener("resize", () => stage.resize());
  stage.resize();
  setLayout(layout);

  let shownPrompt = null;
  function update() {
    const t = clock.tick();
    for (const figure of figures) figure.setFrame(frameAt(figure.dance, t));
    stage.followShadows();
    const text = activePrompt(data, t);
    if (text !== shownPrompt) {
      prompt.textContent = text;
      shownPrompt = text;
    }
    if (document.activeElement !== scrub) scrub.value = String(t);
    timeLabel.textContent = `${formatTime(t)} / ${formatTime(data.duration)}`;
    playButton.textContent = clock.playing ? "❚❚" : "▶";
    playButton.setAttribute("aria-label", clock.playing ? "pause" : "play");
    stage.render();
    placeLabels(stage, figures, labels);
  }

  function loop() {
    update();
    requestAnimationFrame(loop);
  }

  if (Number.isFinite(query.start)) clock.seek(query.start);
  if (SPEEDS.includes(query.speed)) {
    speed.value = String(query.speed);
    clock.setSpeed(query.speed);
  }
  if (query.autoplay) clock.play();
  update();
  requestAnimationFrame(loop);

  const dance = (i = 0) => data.dances[i];
  window.dancegenViewer = {
    data,
    fps: data.dances[0].fps,
    duration: data.duration,
    numFrames: data.dances[0].num_frames,
    dances: data.dances.length,
    labels: () => data.dances.map((d) => d.label),
    frameAt: (t, i = 0) => frameAt(dance(i), t),
    poseAt: (t, i = 0) => poseAt(dance(i), t),
    shownFrame: (i = 0) => figures[i].frame,
    shownPose: (i = 0) => figures[i].shownPose(),
    // How many figures the scene draws now (hidden ones excluded).
    figuresShown: () => figures.filter((f) => f.root.visible && stage.scene.children.includes(f.root)).length,
    // Where joint `joint` of dance `i` is on screen, in CSS pixels from the stage's top left.
    screenPoint: (i, joint) => stage.toScreen(figures[i].worldJoint(joint)),
    cameraOffset: () => stage.camera.position.clone().sub(stage.controls.target).toArray(),
    // Where dance `i`'s floor centre stands in the scene (the layout moves it).
    placement: (i) => figures[i].root.position.toArray(),
    layout: () => layout,
    setLayout: (name) => {
      setLayout(name);
      update();
    },
    loop: () => clock.loop,
    setLoop,
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
    // The bytes a download button saves, as an ArrayBuffer (for tests).
    downloadBytes: async (name) => {
      const file = data.dances.flatMap((d) => d.downloads).find((f) => f.name === name);
      return file ? Array.from(new Uint8Array(await (await downloadBlob(file)).arrayBuffer())) : null;
    },
    ready: true,
  };
}

main();
