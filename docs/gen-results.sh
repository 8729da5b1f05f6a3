#!/usr/bin/env bash
# Regenerate the generated parts of docs/rfc.md:
#
#   <!-- results:begin --> ... <!-- results:end -->
#       from bench/results/summary.md (written by `make bench`), with the file named next
#       to every table and paragraph taken from it, and links to the plots fixed up;
#   <!-- driver-cost:begin --> ... <!-- driver-cost:end -->
#       `wc -l` of the sample driver's files, grouped by what a driver has to write.
#
#   docs/gen-results.sh           rewrite those parts of docs/rfc.md in place
#   docs/gen-results.sh --check   exit 1 if docs/rfc.md is not what this script generates
#
# Nothing else in docs/rfc.md is touched. Needs bash, python3, wc and git.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rfc=docs/rfc.md
summary=bench/results/summary.md

[ -f "$rfc" ] || { echo "gen-results: $rfc not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "gen-results: python3 is required" >&2; exit 1; }

# What a driver writes, in terms of the sample's files. One row per part:
#   key|what it is|files (space separated, relative to the top)
# Files that do not exist yet are shown as not landed; kernel files in no row are
# listed as unclassified, so that the table cannot silently go stale.
cost_rows=(
"engine|Stream engine: record format and checks, chunk queues, resume parser, critical-byte accounting. Shared by v2 and v3; builds without VFIO (KUnit on UML). A candidate for a VFIO core library, in which case a driver writes none of it.|kernel/mst_record.h kernel/mst_record.c kernel/mst_queue.h kernel/mst_queue.c kernel/mst_rx.h kernel/mst_rx.c kernel/mst_acct.h kernel/mst_acct.c"
)

cost_table() {
	local row key what files f n total present
	echo "| part | file | lines (\`wc -l\`) |"
	echo "| --- | --- | ---: |"
	for row in "${cost_rows[@]}"; do
		IFS='|' read -r key what files <<<"$row"
		total=0 present=0
		for f in $files; do
			if [ -f "$f" ]; then
				n=$(wc -l <"$f")
				total=$((total + n)) present=$((present + 1))
				echo "| $key | \`$f\` | $n |"
			else
				echo "| $key | \`$f\` | not landed |"
			fi
		done
		[ "$present" -eq 0 ] || echo "| **$key, total** | | **$total** |"
	done
	echo
	for row in "${cost_rows[@]}"; do
		IFS='|' read -r key what files <<<"$row"
		echo "- **$key**: $what"
	done
	local listed=" " unclassified=()
	for row in "${cost_rows[@]}"; do
		IFS='|' read -r key what files <<<"$row"
		listed+="$files "
	done
	for f in $(git ls-files 'kernel/*.c' 'kernel/*.h' 2>/dev/null; ls kernel/*.c kernel/*.h 2>/dev/null); do
		case "$listed" in *" $f "*) ;; *) unclassified+=("$f") ;; esac
	done
	if [ "${#unclassified[@]}" -gt 0 ]; then
		echo
		echo "Not yet classified by docs/gen-results.sh (shown so the table cannot go stale):"
		printf '%s\n' "${unclassified[@]}" | sort -u | sed 's/.*/`&`/' | paste -sd' ' | sed 's/^/  /'
	fi
}

results_section() {
	if [ ! -f "$summary" ]; then
		cat <<-MD
		No benchmark results exist yet: \`$summary\` is not in this tree. They are
		produced by \`make bench\` (see docs/testing.md), after which \`docs/gen-results.sh\`
		rewrites this section from that file. Until then this RFC makes no performance claim.
		MD
		return
	fi
	local when
	when=$(git log -1 --format='commit %h, %cs' -- "$summary" 2>/dev/null || true)
	[ -n "$when" ] || when="not committed yet"
	echo "Every number below is copied by \`docs/gen-results.sh\` from \`$summary\` ($when),"
	echo "which \`make bench\` writes together with the CSV files, the plots and the parameters"
	echo "of the run in \`bench/results/\`."
	echo
	python3 - "$summary" <<-'PY'
	import re, sys
	path = sys.argv[1]
	src = open(path, encoding="utf-8").read().splitlines()
	out, section = [], None

	def fix_links(l):
	    # links relative to bench/results/ become relative to docs/
	    return re.sub(r"(\]\()(?!https?:|/|#)([^)]+\))", r"\1../bench/results/\2", l)

	def source_note():
	    s = " (section \"%s\")" % section if section else ""
	    return "<sub>Source: `%s`%s.</sub>" % (path, s)

	block = []          # current table or paragraph
	def flush():
	    global block
	    if not block:
	        return
	    out.extend(block)
	    # a number outside link targets (plot file names do not count)
	    if any(re.search(r"\d", re.sub(r"\]\([^)]*\)", "]", l)) for l in block):
	        out.append("")
	        out.append(source_note())
	    out.append("")
	    block = []

	in_code = False
	for l in src:
	    if l.startswith("```"):
	        in_code = not in_code
	        block.append(l)
	        continue
	    if in_code:
	        block.append(l)
	        continue
	    m = re.match(r"^(#+)\s+(.*)$", l)
	    if m:
	        flush()
	        section = m.group(2).strip()
	        out.append("#" * min(len(m.group(1)) + 2, 6) + " " + section)
	        out.append("")
	        continue
	    if not l.strip():
	        flush()
	        continue
	    block.append(fix_links(l))
	flush()
	while out and not out[-1]:
	    out.pop()
	print("\n".join(out))
	PY
}

render() {
	local res cost
	res=$(results_section)
	cost=$(cost_table)
	RES="$res" COST="$cost" python3 - "$rfc" <<-'PY'
	import os, re, sys
	text = open(sys.argv[1], encoding="utf-8").read()
	for name, body in (("results", os.environ["RES"]), ("driver-cost", os.environ["COST"])):
	    begin, end = "<!-- %s:begin -->" % name, "<!-- %s:end -->" % name
	    if text.count(begin) != 1 or text.count(end) != 1:
	        sys.exit("gen-results: docs/rfc.md needs exactly one %s and one %s" % (begin, end))
	    pat = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
	    note = "<!-- generated by docs/gen-results.sh; do not edit between these markers -->"
	    text = pat.sub(lambda m: "%s\n%s\n\n%s\n\n%s" % (begin, note, body.strip("\n"), end), text)
	sys.stdout.write(text)
	PY
}

if [ "${1:-}" = "--check" ]; then
	tmp=$(mktemp)
	trap 'rm -f "$tmp"' EXIT
	render >"$tmp"
	if ! cmp -s "$tmp" "$rfc"; then
		echo "gen-results: $rfc is stale; run docs/gen-results.sh" >&2
		diff -u "$rfc" "$tmp" >&2 || true
		exit 1
	fi
	echo "gen-results: $rfc is up to date"
	exit 0
fi

render >"$rfc.tmp"
mv "$rfc.tmp" "$rfc"
if [ -f "$summary" ]; then
	echo "gen-results: $rfc: results from $summary, driver cost from wc -l"
else
	echo "gen-results: $rfc: no $summary yet (section says so); driver cost from wc -l"
fi
