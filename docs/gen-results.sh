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
# The output depends only on the files read, so a fresh clone regenerates it identically
# (commit bench/results/ together with docs/rfc.md).
#
# Nothing else in docs/rfc.md is touched. Needs bash, python3, wc and git.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rfc=docs/rfc.md
# SUMMARY=FILE reads another summary (e.g. bench/results-quick/summary.md while iterating);
# the RFC then names that file next to the numbers.
summary=${SUMMARY:-bench/results/summary.md}

[ -f "$rfc" ] || { echo "gen-results: $rfc not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "gen-results: python3 is required" >&2; exit 1; }

# What a driver writes, in terms of the sample's files. One row per part:
#   key|what it is|files (space separated, relative to the top)
# Files that do not exist yet are shown as not landed; kernel files in no row are
# listed as unclassified, so that the table cannot silently go stale.
cost_rows=(
"engine|Stream engine: record format and checks, chunk queues, resume parser, critical-byte accounting. Shared by v2 (single and mux) and v3; builds without VFIO (KUnit on UML). A candidate for a VFIO core library.|kernel/mst_record.h kernel/mst_record.c kernel/mst_queue.h kernel/mst_queue.c kernel/mst_rx.h kernel/mst_rx.c kernel/mst_acct.h kernel/mst_acct.c"
"migration|Migration glue any v2 driver has: FSM and sessions, v2's device features and the data_fd's PRECOPY_INFO (mst_mig.c), the file operations of every migration FD (mst_file.c), private structures (mst.h). v2 single, v2 mux and v3 share these files.|kernel/mst.h kernel/mst_mig.c kernel/mst_file.c"
"v3|What a v2 driver adds for v3 and nothing else (mst_v3.c): the MULTISTREAM and MIG_STREAM_FDS features, handing out the dirty streams' FDs, STREAM_INFO, and what a dirty stream's end, failure or abandonment does to the critical stream. It knows nothing of how the records are produced.|kernel/mst_v3.c"
"firmware|The firmware model that produces the streams (mst_fw.c): save engines as work items, passes over dirty pages, REINIT's CRIT records, v2 mux's interleaving. A real driver has its device's save commands in its place; the v3-only functions in it are listed below.|kernel/mst_fw.c"
"device|The device itself, not migration: mdev and VFIO registration (mst_main.c), state, checksum and workload simulator (mst_state.c), knobs (mst_sysfs.c).|kernel/mst_main.c kernel/mst_state.c kernel/mst_sysfs.c"
"tests|KUnit suites of the engine; not part of the driver, listed for completeness.|kernel/tests/*.c"
)

# Functions outside mst_v3.c that exist only for v3 (file:function). Counted from the
# line that names the function to its closing brace in column 0.
v3_funcs=(
kernel/mst_fw.c:mst_fw_stream_info
kernel/mst_fw.c:mst_dirty_pending
kernel/mst_fw.c:mst_fw_crit_maybe_end_locked
)
# v3 branches inside functions shared with v2 (counted, not extracted).
v3_branch_re='protocol == 3|protocol != 3'

# The definition of function $2 in file $1, signature line to closing brace.
func_body() {
	awk -v fn="$2" '
		!inside && $0 ~ "^[a-z_].*[ *]" fn "\\(" && $0 !~ /;[[:space:]]*$/ { inside = 1 }
		inside { print }
		inside && /^}/ { exit }
	' "$1"
}

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
		for f in $files; do listed+="$f "; done
	done
	for f in $(git ls-files 'kernel/*.c' 'kernel/*.h' 2>/dev/null); do
		case "$listed" in *" $f "*) ;; *) unclassified+=("$f") ;; esac
	done
	if [ "${#unclassified[@]}" -gt 0 ]; then
		echo
		echo "Kernel files not yet classified by docs/gen-results.sh:"
		printf '%s\n' "${unclassified[@]}" | sort -u | sed 's/.*/`&`/' | paste -sd' ' | sed 's/^/  /'
	fi

	echo
	echo "Functions of the firmware model that exist only for v3 (from the line naming the"
	echo "function to its closing brace, counted with \`wc -l\`):"
	echo
	echo "| function | file | lines |"
	echo "| --- | --- | ---: |"
	local spec file fn sum=0
	for spec in "${v3_funcs[@]}"; do
		file=${spec%%:*} fn=${spec#*:}
		if [ -f "$file" ] && n=$(func_body "$file" "$fn" | wc -l) && [ "$n" -gt 0 ]; then
			sum=$((sum + n))
			echo "| \`$fn()\` | \`$file\` | $n |"
		else
			echo "| \`$fn()\` | \`$file\` | not found |"
		fi
	done
	echo "| **total** | | **$sum** |"
	echo
	local nb=0
	for f in $(git ls-files 'kernel/*.c' 2>/dev/null | grep -E '^kernel/[^/]+\.c$'); do
		n=$(grep -cE "$v3_branch_re" "$f" || true)
		nb=$((nb + n))
	done
	echo "Besides these, functions shared with v2 branch on v3 at $nb places"
	echo "(\`grep -cE '$v3_branch_re' kernel/*.c\`); those lines are not in the total."
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
	echo "Every number below is copied by \`docs/gen-results.sh\` from \`$summary\`, which"
	echo "\`make bench\` writes together with the CSV files, the plots and the parameters of the"
	echo "run, in the same directory."
	echo
	python3 - "$summary" <<-'PY'
	import re, sys
	path = sys.argv[1]
	src = open(path, encoding="utf-8").read().splitlines()
	out, section = [], None

	import os
	base = os.path.relpath(os.path.dirname(os.path.abspath(path)), os.path.abspath("docs"))
	def fix_links(l):
	    # links relative to the summary's directory become relative to docs/
	    return re.sub(r"(\]\()(?!https?:|/|#)([^)]+\))",
	                  lambda m: m.group(1) + base + "/" + m.group(2), l)

	def source_note():
	    s = " (section \"%s\")" % section if section else ""
	    return "<sub>Source: `%s`%s.</sub>" % (path, s)

	block = []          # current table or paragraph
	def flush():
	    global block
	    if not block:
	        return
	    out.extend(block)
	    # a number outside link targets and code spans (file and variant names do not
	    # count)
	    def numbers(l):
	        l = re.sub(r"\]\([^)]*\)", "]", l)
	        l = re.sub(r"`[^`]*`", "", l)
	        return re.search(r"\d", l)
	    if any(numbers(l) for l in block):
	        out.append("")
	        out.append(source_note())
	    out.append("")
	    block = []

	in_code = False
	# the summary's own title: the RFC's section heading stands for it
	if src and re.match(r"^#\s", src[0]):
	    src = src[1:]
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
	        out.append("#" * min(max(len(m.group(1)) + 1, 3), 6) + " " + section)
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

if [ -n "$(git status --porcelain -- kernel/ 2>/dev/null)" ]; then
	echo "gen-results: warning: kernel/ has uncommitted changes; the line counts include them" >&2
fi
render >"$rfc.tmp"
mv "$rfc.tmp" "$rfc"
if [ -f "$summary" ]; then
	echo "gen-results: $rfc: results from $summary, driver cost from wc -l"
else
	echo "gen-results: $rfc: no $summary yet (section says so); driver cost from wc -l"
fi
