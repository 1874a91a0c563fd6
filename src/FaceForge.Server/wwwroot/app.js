// FaceForge web page: enrol from files or the camera, identify a photo, draw boxes, names and quality.
// Plain browser JavaScript: no build step, nothing fetched from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const keyInput = $("api-key");
keyInput.value = localStorage.getItem("faceforge.key") || "";
keyInput.addEventListener("change", () => localStorage.setItem("faceforge.key", keyInput.value.trim()));
const captured = [];

function headers() {
  const key = keyInput.value.trim();
  return key ? { "X-Api-Key": key } : {};
}

// A problem+json answer becomes one readable line: its title and detail.
async function failure(response) {
  try {
    const problem = await response.json();
    return `${response.status} ${problem.title}: ${problem.detail}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function say(element, text, ok) {
  element.textContent = text;
  element.className = ok ? "ok" : "error";
}

async function loadGalleries() {
  const select = $("gallery");
  try {
    const health = await (await fetch("/health")).json();
    select.replaceChildren(...Object.keys(health.galleries).map((name) => new Option(name, name)));
  } catch (e) {
    say($("identify-status"), `cannot reach the service: ${e}`, false);
  }
}

const galleryUrl = () => `/v1/galleries/${encodeURIComponent($("gallery").value)}`;

async function enrol() {
  const status = $("enrol-status");
  const subject = $("enrol-subject").value.trim();
  const files = [...$("enrol-files").files, ...captured];
  if (!subject) return say(status, "give a subject id", false);
  if (files.length === 0) return say(status, "choose photos or take some with the camera", false);
  const form = new FormData();
  files.forEach((file, i) => form.append("image", file, file.name || `camera-${i + 1}.jpg`));
  say(status, "enrolling…", true);
  const response = await fetch(`${galleryUrl()}/subjects/${encodeURIComponent(subject)}/faces`, { method: "POST", headers: headers(), body: form });
  if (!response.ok) return say(status, await failure(response), false);
  const result = await response.json();
  captured.length = 0;
  $("camera-count").textContent = "";
  say(status, `enrolled ${result.face_ids.length} face(s) of ${result.subject}; ${result.subject_faces} in all`, true);
}

async function identify() {
  const status = $("identify-status");
  const file = $("identify-file").files[0];
  if (!file) return say(status, "choose a photo", false);
  const form = new FormData();
  form.append("image", file, file.name);
  say(status, "identifying…", true);
  const response = await fetch(`${galleryUrl()}/identify?top_k=3`, { method: "POST", headers: headers(), body: form });
  if (!response.ok) return say(status, await failure(response), false);
  const result = await response.json();
  await draw(file, result);
  const names = result.faces.filter((f) => f.known).map((f) => f.subject);
  say(status, `${result.faces.length} face(s), ${names.length} known${names.length ? ": " + names.join(", ") : ""}`, true);
}

function label(face) {
  const best = face.matches[0];
  const who = face.known ? face.subject : face.known === false ? "unknown" : (best ? best.subject + "?" : "unknown");
  const score = best ? ` ${best.score.toFixed(2)}` : "";
  return { who, text: `${who}${score}`, quality: `eyes ${face.quality.inter_ocular_pixels.toFixed(0)} px, yaw ${face.quality.yaw.toFixed(2)}` };
}

async function draw(file, result) {
  const bitmap = await createImageBitmap(file);
  const canvas = $("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const g = canvas.getContext("2d");
  g.drawImage(bitmap, 0, 0);
  const line = Math.max(2, bitmap.width / 300);
  const font = Math.max(11, Math.round(bitmap.width / 45));
  g.font = `${font}px system-ui, sans-serif`;
  const list = $("results");
  list.replaceChildren();
  for (const face of result.faces) {
    const { who, text, quality } = label(face);
    const b = face.box;
    g.strokeStyle = face.known ? "#22c55e" : "#f97316";
    g.lineWidth = line;
    g.strokeRect(b.left, b.top, b.right - b.left, b.bottom - b.top);
    // Name above the box, quality below it; each on a dark band so that it reads on any photo.
    for (const [t, y] of [[text, Math.max(font + 2, b.top - 4)], [quality, Math.min(canvas.height - 4, b.bottom + font + 2)]]) {
      g.fillStyle = "rgba(0, 0, 0, 0.65)";
      g.fillRect(b.left, y - font - 1, g.measureText(t).width + 8, font + 5);
      g.fillStyle = "#fff";
      g.fillText(t, b.left + 4, y);
    }
    const item = document.createElement("li");
    item.textContent = `${text} (${quality})`;
    item.dataset.subject = who;
    list.append(item);
  }
}

async function startCamera() {
  const video = $("camera-video");
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
    video.hidden = false;
    $("camera-capture").hidden = false;
  } catch (e) {
    say($("enrol-status"), `no camera: ${e.message}`, false);
  }
}

function capture() {
  const video = $("camera-video");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => {
    captured.push(new File([blob], `camera-${captured.length + 1}.jpg`, { type: "image/jpeg" }));
    $("camera-count").textContent = `${captured.length} photo(s) taken`;
  }, "image/jpeg", 0.92);
}

$("enrol-button").addEventListener("click", () => enrol().catch((e) => say($("enrol-status"), String(e), false)));
$("identify-button").addEventListener("click", () => identify().catch((e) => say($("identify-status"), String(e), false)));
$("camera-start").addEventListener("click", startCamera);
$("camera-capture").addEventListener("click", capture);
loadGalleries();
