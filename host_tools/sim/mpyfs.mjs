// Copies firmware files into a MicroPython (WebAssembly) VM's FS (virtual board, lane, bench).
import fs from "node:fs";
import path from "node:path";
import url from "node:url";

export const repoRoot = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), "..", "..");

function mkdirs(FS, dir) {
  let cur = "";
  for (const part of dir.split("/").filter(Boolean)) {
    cur += "/" + part;
    try {
      FS.mkdir(cur);
    } catch (err) {
      // EEXIST: already there.
    }
  }
}

// Copies every .py file below `src` (on the host) to `dest` (in the MicroPython FS).
export function copyTree(FS, src, dest) {
  mkdirs(FS, dest);
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const from = path.join(src, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__") copyTree(FS, from, dest + "/" + entry.name);
    } else if (entry.name.endsWith(".py")) {
      FS.writeFile(dest + "/" + entry.name, fs.readFileSync(from));
    }
  }
}
