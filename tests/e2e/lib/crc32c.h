/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MST_E2E_CRC32C_H
#define MST_E2E_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Kernel convention: no final inversion; the wire format seeds with ~0. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
