// Times @kenjiuno/msgreader (npm) reading each .msg of a folder in process:
// the message fields and every attachment's data; `file<TAB>microseconds`.
const fs = require("fs");
const path = require("path");
const MsgReader = require("@kenjiuno/msgreader").default;

function read(buf) {
  const reader = new MsgReader(buf);
  const data = reader.getFileData();
  for (const a of data.attachments || []) {
    reader.getAttachment(a);
  }
  return data;
}

const dir = process.argv[2];
for (const name of fs.readdirSync(dir).sort()) {
  const buf = fs.readFileSync(path.join(dir, name));
  try {
    const data = read(buf);
    if (data.error) continue;
  } catch (e) {
    continue;
  }
  let runs = 0;
  const start = process.hrtime.bigint();
  while (runs < 3 || Number(process.hrtime.bigint() - start) < 5e8) {
    read(buf);
    runs++;
  }
  const micros = Number(process.hrtime.bigint() - start) / 1e3 / runs;
  console.log(`${name}\t${micros.toFixed(1)}`);
}
