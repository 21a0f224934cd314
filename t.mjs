import pkg from 'onnx-proto';
const { onnx } = pkg;
import fs from 'fs';
for (const f of process.argv.slice(2)) {
const m = onnx.ModelProto.decode(fs.readFileSync(f));
const g = m.graph;
console.log(f, 'ir', m.irVersion, 'opsets', m.opsetImport.map(o=>`${o.domain}:${o.version}`), 'nodes', g.node.length, 'inits', g.initializer.length, 'vi', g.valueInfo.length, 'funcs', m.functions.length);
console.log(' inputs', g.input.map(i=>i.name+':'+i.type.tensorType.elemType+'['+i.type.tensorType.shape.dim.map(d=>d.dimParam||d.dimValue).join(',')+']').join(' '));
const ops = {}; for (const n of g.node) ops[n.domain+':'+n.opType]=(ops[n.domain+':'+n.opType]||0)+1; console.log(' ops', JSON.stringify(ops));
const inits = g.initializer.map(t=>`${t.name}[${t.dims.join(',')}]t${t.dataType}${t.dataLocation?'EXT':''}`); console.log(' inits', inits.slice(0,12).join(' '), '...');
}
