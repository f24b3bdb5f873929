// The virtual board's persistent flash: /flash in the VM's FS, copied out at power off and back in
// at the next boot, as littlefs keeps its files on a real board.
export const FLASH_ROOT = "/flash";

// Every file and directory below /flash: [{path, dir: true} | {path, data: Uint8Array}].
export function readFlash(FS, dir = FLASH_ROOT, out = []) {
  let names;
  try {
    names = FS.readdir(dir);
  } catch (err) {
    return out; // no /flash yet
  }
  for (const name of names) {
    if (name === "." || name === "..") continue;
    const full = `${dir}/${name}`;
    if (FS.isDir(FS.stat(full).mode)) {
      out.push({ path: full, dir: true });
      readFlash(FS, full, out);
    } else {
      out.push({ path: full, data: FS.readFile(full) });
    }
  }
  return out;
}

// Recreates what readFlash returned (directories come before their files).
export function writeFlash(FS, entries) {
  try {
    FS.mkdir(FLASH_ROOT);
  } catch (err) {
    // EEXIST
  }
  for (const entry of entries || []) {
    if (entry.dir) {
      try {
        FS.mkdir(entry.path);
      } catch (err) {
        // EEXIST
      }
    } else {
      FS.writeFile(entry.path, entry.data);
    }
  }
}
