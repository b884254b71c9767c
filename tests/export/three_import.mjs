// Imports a .glb with three.js's own GLTFLoader (the one the web uses) and prints, as JSON, the
// skin's bone names, the animation clip and the bones' world positions at the given times.
// Usage: node three_import.mjs VIEWER_DIR FILE.glb TIME...
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [viewerDir, file, ...times] = process.argv.slice(2);
const three = await import(pathToFileURL(`${viewerDir}/node_modules/three/build/three.module.js`));
const { GLTFLoader } = await import(
  pathToFileURL(`${viewerDir}/node_modules/three/examples/jsm/loaders/GLTFLoader.js`)
);

const bytes = readFileSync(file);
const gltf = await new GLTFLoader().parseAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), "");
const skinned = [];
gltf.scene.traverse((object) => object.isSkinnedMesh && skinned.push(object));
const bones = skinned[0].skeleton.bones;
const clip = gltf.animations[0];
const mixer = new three.AnimationMixer(gltf.scene);
mixer.clipAction(clip).play();

const positions = times.map((t) => {
  mixer.setTime(Number(t));
  gltf.scene.updateMatrixWorld(true);
  return bones.map((bone) => bone.getWorldPosition(new three.Vector3()).toArray());
});
console.log(JSON.stringify({
  bones: bones.map((bone) => bone.name),
  skinnedMeshes: skinned.length,
  vertices: skinned[0].geometry.attributes.position.count,
  clip: { name: clip.name, duration: clip.duration, tracks: clip.tracks.length },
  positions,
}));
