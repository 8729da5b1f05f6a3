# Turn the project's uapi/linux/vfio_mstream.h into the block that the RFC's first
# patch adds to include/uapi/linux/vfio.h (scripts/make-rfc-kernel): the same text,
# less what only a header of its own needs.  Dropped:
#  - the SPDX line, the include guard and the #include lines (vfio.h has its own);
#  - "vfio_mstream.h - " before the title of the top comment, and the name of
#    vfio.h where the text is about to be part of it;
#  - the paragraph on build headers older than 6.2 (vfio.h is the newer one);
#  - the #ifndef/#endif around each Linux 7.1 fallback: 6.12's vfio.h has no
#    PRECOPY_INFOv2, so the series defines it, with the value upstream assigned.
# Runs of blank lines left behind are squeezed into one.  Exits non-zero when a rule
# no longer matches anything, so that a reworded header fails loudly, not silently.

/^\/\* SPDX-License-Identifier:/		{ n_spdx++; next }
/^#(ifndef|define) _UAPI_LINUX_VFIO_MSTREAM_H$/	{ n_guard++; next }
/^#endif \/\* _UAPI_LINUX_VFIO_MSTREAM_H \*\/$/	{ n_guard++; next }
/^#include </					{ next }
/^ \* This header builds on /			{ in_old = 1; n_old++ }
in_old						{ if ($0 == " *") in_old = 0; next }
/^#ifndef VFIO_/				{ n_ifndef++; next }
/^#endif$/					{ n_endif++; next }
sub(/^ \* vfio_mstream\.h - /, " * ")		{ n_title++ }
sub(/ of include\/uapi\/linux\/vfio\.h\.$/, ".")	{ n_self++ }

/^$/ { blank++; next }
{
	if (blank && printed)
		print ""
	blank = 0
	printed = 1
	print
}

END {
	if (n_spdx != 1 || n_guard != 3 || n_old != 1 || n_title != 1 || n_self != 1 ||
	    n_ifndef == 0 || n_ifndef != n_endif) {
		printf "uapi-in-vfio-h.awk: the header no longer has the expected shape " \
		       "(spdx %d, guard %d, old-headers paragraph %d, title %d, " \
		       "vfio.h %d, #ifndef %d, #endif %d)\n", n_spdx, n_guard, n_old,
		       n_title, n_self, n_ifndef, n_endif > "/dev/stderr"
		exit 1
	}
}
