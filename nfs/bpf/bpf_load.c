/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loading what a bpf NF runs: an eBPF object (its maps section read here,
 * its code loaded, validated and JIT-compiled by librte_bpf) or a tcpdump
 * expression (libpcap's compiler, then DPDK's cBPF-to-eBPF conversion).
 * A program that cannot run gets one line saying why.
 */
#define _GNU_SOURCE            /* memmem */
#define ALLOW_EXPERIMENTAL_API /* rte_bpf_convert */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_memzone.h>

#include "bpf_nf.h"

#ifndef EM_BPF
#define EM_BPF 247
#endif

/* What the object declares and references. */
struct bpf_object {
	struct bpf_map_spec maps[ONVM_BPF_MAX_MAPS];
	unsigned int nmaps;
	int uses_md;
	int jit_unsafe; /* see bpf_jit_unsafe() */
	char section[ONVM_BPF_SECTION_MAX];
};

/* As --map spells them. */
const char *const bpf_map_type_names[ONVM_BPF_MAP_PERCPU_ARRAY + 1] = {
    [ONVM_BPF_MAP_HASH] = "hash",
    [ONVM_BPF_MAP_ARRAY] = "array",
    [ONVM_BPF_MAP_PERCPU_HASH] = "percpu_hash",
    [ONVM_BPF_MAP_PERCPU_ARRAY] = "percpu_array",
};

static const char *const bpf_helpers[] = {
    "onvm_md",
    "onvm_bpf_flow_hash",
    "onvm_bpf_time_ns",
    "onvm_bpf_ipv4_csum",
};

static int bpf_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bpf_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* DPDK 22.11's x86 JIT encodes `jset dst, imm` with a one-byte immediate
 * when imm fits in one, but x86's TEST has only a four-byte form: the
 * bytes after it decode as other instructions and the program crashes or
 * lies. Programs holding one run in the interpreter. */
static int
bpf_jit_unsafe(const struct ebpf_insn *ins, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ins[i].code == (BPF_JMP | BPF_JSET | BPF_K) &&
		    ins[i].imm == (int8_t)ins[i].imm)
			return 1;
	return 0;
}

int
bpf_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > ONVM_BPF_MAP_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!(name[i] == '_' || (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= 'A' && name[i] <= 'Z') ||
		      (i > 0 && name[i] >= '0' && name[i] <= '9')))
			return 0;
	return 1;
}

/* Is @p sym a map helper (NAME__op) of a map in @p obj or @p b's specs? */
static int
bpf_map_helper_known(const struct bpf_nf *b, const struct bpf_object *obj,
                     const char *sym)
{
	static const char *const ops[] = {
	    "__lookup",      "__update",      "__delete",      "__add",
	    "__lookup_elem", "__update_elem", "__delete_elem", "__add_elem"};
	unsigned int i, op;

	for (op = 0; op < RTE_DIM(ops); op++) {
		size_t n = strlen(sym), k = strlen(ops[op]);

		if (n <= k || strcmp(sym + n - k, ops[op]) != 0)
			continue;
		for (i = 0; i < obj->nmaps; i++)
			if (strlen(obj->maps[i].name) == n - k &&
			    strncmp(obj->maps[i].name, sym, n - k) == 0)
				return 1;
		for (i = 0; i < b->nspecs; i++)
			if (strlen(b->specs[i].name) == n - k &&
			    strncmp(b->specs[i].name, sym, n - k) == 0)
				return 1;
	}
	return 0;
}

/* The code refers to something the object defines itself: a function
 * (clang puts the ones it did not inline in .text), a global variable, a
 * constant table, a map's definition. None can be resolved at run time. */
static int
bpf_defined_ref(Elf *elf, size_t shstrndx, size_t maps_idx, const GElf_Sym *s,
                const char *name, const char *path, uint64_t insn, char *err,
                size_t errlen)
{
	Elf_Scn *scn = elf_getscn(elf, s->st_shndx);
	const char *where = NULL;
	GElf_Shdr sh;
	int code = 0;

	if (scn != NULL && gelf_getshdr(scn, &sh) != NULL) {
		where = elf_strptr(elf, shstrndx, sh.sh_name);
		code = (sh.sh_flags & SHF_EXECINSTR) != 0;
	}
	if (where == NULL)
		where = "?";
	if (code)
		return bpf_err(
		    err, errlen,
		    "%s: instruction %lu calls a function in section "
		    "'%s', and DPDK's validator takes no calls "
		    "between functions: mark it static inline "
		    "__attribute__((always_inline))",
		    path, (unsigned long)insn, where);
	if (s->st_shndx == maps_idx)
		return bpf_err(
		    err, errlen,
		    "%s: instruction %lu uses map '%s' itself: reach "
		    "it through its helpers (%s__lookup...)",
		    path, (unsigned long)insn, name, name);
	return bpf_err(err, errlen,
	               "%s: instruction %lu refers to '%s' in section '%s': "
	               "programs have no global variables or constant "
	               "tables; keep data on the stack or in a map",
	               path, (unsigned long)insn,
	               name[0] != '\0' ? name : where, where);
}

/* Read the object's code sections, maps and references. */
static int
bpf_read_object(const struct bpf_nf *b, const char *path, const char *want,
                struct bpf_object *obj, char *err, size_t errlen)
{
	char sections[512] = "";
	size_t shstrndx;
	Elf_Scn *scn = NULL, *symtab = NULL, *code = NULL;
	GElf_Shdr sh, symsh;
	size_t code_idx = 0, maps_idx = 0, ncode = 0;
	GElf_Ehdr eh;
	Elf *elf;
	int fd, rc = 0;

	memset(obj, 0, sizeof(*obj));
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return bpf_err(err, errlen, "cannot open %s: %s", path,
		               strerror(errno));
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf == NULL || elf_kind(elf) != ELF_K_ELF ||
	    gelf_getehdr(elf, &eh) == NULL) {
		rc = bpf_err(err, errlen,
		             "%s is not an ELF object: build it with "
		             "`onvm-bpf build PROG.c -o PROG.o`",
		             path);
		goto out;
	}
	if (eh.e_machine != EM_BPF || eh.e_ident[EI_CLASS] != ELFCLASS64) {
		rc = bpf_err(err, errlen,
		             "%s is not an eBPF object (ELF machine %u): build "
		             "it with `onvm-bpf build PROG.c -o PROG.o`",
		             path, eh.e_machine);
		goto out;
	}
	if (elf_getshdrstrndx(elf, &shstrndx) != 0) {
		rc = bpf_err(err, errlen, "%s: no section names", path);
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		const char *name;

		if (gelf_getshdr(scn, &sh) == NULL)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name == NULL)
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			symtab = scn;
		if (strcmp(name, "maps") == 0)
			maps_idx = elf_ndxscn(scn);
		if (sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR) || sh.sh_size == 0)
			continue;
		ncode++;
		if (strlen(sections) + strlen(name) + 3 < sizeof(sections)) {
			if (sections[0] != '\0')
				strcat(sections, ", ");
			strcat(sections, name);
		}
		if (want[0] != '\0' ? strcmp(name, want) == 0 : ncode == 1) {
			code = scn;
			code_idx = elf_ndxscn(scn);
			snprintf(obj->section, sizeof(obj->section), "%s",
			         name);
		}
	}
	if (ncode == 0) {
		rc = bpf_err(err, errlen, "%s holds no code", path);
		goto out;
	}
	if (want[0] != '\0' && code == NULL) {
		rc = bpf_err(err, errlen,
		             "%s has no code section '%s': its code sections "
		             "are %s (--section NAME)",
		             path, want, sections);
		goto out;
	}
	if (want[0] == '\0' && ncode > 1) {
		rc = bpf_err(err, errlen,
		             "%s has %zu code sections (%s): say which with "
		             "--section NAME%s",
		             path, ncode, sections,
		             strstr(sections, ".text") != NULL
		                 ? " (if .text holds functions the program "
		                   "calls, mark them static inline "
		                   "__attribute__((always_inline)))"
		                 : "");
		goto out;
	}
	{
		Elf_Data *text = elf_getdata(code, NULL);

		if (text != NULL && text->d_buf != NULL)
			obj->jit_unsafe = bpf_jit_unsafe(
			    text->d_buf,
			    text->d_size / sizeof(struct ebpf_insn));
	}
	if (symtab == NULL || gelf_getshdr(symtab, &symsh) == NULL) {
		rc = bpf_err(err, errlen, "%s has no symbol table", path);
		goto out;
	}

	/* Maps: the symbols of the maps section. */
	{
		Elf_Data *syms = elf_getdata(symtab, NULL);
		size_t i,
		    n = symsh.sh_entsize ? symsh.sh_size / symsh.sh_entsize : 0;
		Elf_Data *mdata = NULL;

		if (maps_idx != 0)
			mdata = elf_getdata(elf_getscn(elf, maps_idx), NULL);
		for (i = 0; maps_idx != 0 && i < n; i++) {
			GElf_Sym s;
			const char *name;
			struct bpf_map_spec *spec;
			const char *why;

			if (gelf_getsym(syms, (int)i, &s) == NULL ||
			    s.st_shndx != maps_idx ||
			    GELF_ST_TYPE(s.st_info) == STT_SECTION)
				continue;
			name = elf_strptr(elf, symsh.sh_link, s.st_name);
			if (name == NULL || name[0] == '\0')
				continue;
			if (s.st_size != sizeof(struct onvm_bpf_map_def) ||
			    mdata == NULL || mdata->d_buf == NULL ||
			    s.st_value + s.st_size > mdata->d_size) {
				rc = bpf_err(
				    err, errlen,
				    "%s: map '%s' is not a struct "
				    "onvm_bpf_map_def: declare maps with "
				    "ONVM_BPF_MAP() (onvm/bpf.h)",
				    path, name);
				goto out;
			}
			if (!bpf_name_ok(name)) {
				rc = bpf_err(
				    err, errlen,
				    "%s: map name '%s' is longer than %d "
				    "characters or not a C name",
				    path, name, ONVM_BPF_MAP_NAME_MAX);
				goto out;
			}
			if (obj->nmaps == ONVM_BPF_MAX_MAPS) {
				rc = bpf_err(err, errlen,
				             "%s declares more than %d maps",
				             path, ONVM_BPF_MAX_MAPS);
				goto out;
			}
			spec = &obj->maps[obj->nmaps++];
			snprintf(spec->name, sizeof(spec->name), "%s", name);
			memcpy(&spec->def, (char *)mdata->d_buf + s.st_value,
			       sizeof(spec->def));
			why = onvm_bpf_map_shape_error(
			    spec->def.type, spec->def.key_size,
			    spec->def.value_size, spec->def.max_entries);
			if (why != NULL) {
				rc = bpf_err(err, errlen, "%s: map '%s': %s",
				             path, name, why);
				goto out;
			}
		}
	}

	/* References of the code: every one a helper, a map's or onvm_md. */
	scn = NULL;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		Elf_Data *rel, *syms = elf_getdata(symtab, NULL);
		size_t i, n;

		if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type != SHT_REL ||
		    sh.sh_info != code_idx)
			continue;
		rel = elf_getdata(scn, NULL);
		n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (i = 0; rel != NULL && i < n; i++) {
			GElf_Rel r;
			GElf_Sym s;
			const char *name;
			unsigned int k, known = 0;

			if (gelf_getrel(rel, (int)i, &r) == NULL ||
			    gelf_getsym(syms, (int)GELF_R_SYM(r.r_info), &s) ==
			        NULL)
				continue;
			name = elf_strptr(elf, symsh.sh_link, s.st_name);
			if (name == NULL)
				continue;
			if (strcmp(name, "onvm_md") == 0)
				obj->uses_md = 1;
			for (k = 0; k < RTE_DIM(bpf_helpers); k++)
				known |= strcmp(name, bpf_helpers[k]) == 0;
			if (known || bpf_map_helper_known(b, obj, name))
				continue;
			if (s.st_shndx != SHN_UNDEF &&
			    s.st_shndx < SHN_LORESERVE) {
				rc = bpf_defined_ref(
				    elf, shstrndx, maps_idx, &s, name, path,
				    r.r_offset / 8, err, errlen);
				goto out;
			}
			rc = bpf_err(
			    err, errlen,
			    "%s: instruction %lu refers to '%s', which is "
			    "no helper, map helper or variable of "
			    "onvm/bpf.h",
			    path, (unsigned long)(r.r_offset / 8), name);
			goto out;
		}
	}
out:
	if (elf != NULL)
		elf_end(elf);
	close(fd);
	return rc;
}

/* The slot of a map shaped as @p spec: the one of that name if its shape
 * is the same (its entries survive a program's replacement), else a new
 * one. Returns the slot or -1. */
static int
bpf_map_slot(struct bpf_nf *b, const struct bpf_map_spec *spec, uint32_t taken,
             char *err, size_t errlen)
{
	const struct onvm_bpf_map_def *d = &spec->def;
	const struct rte_memzone *mz;
	char mzname[RTE_MEMZONE_NAMESIZE];
	uint64_t bytes;
	int i, free_slot = -1;

	for (i = 0; i < ONVM_BPF_MAP_SLOTS; i++) {
		const struct onvm_bpf_map *m = bpf_slot_maps[i];

		if (m == NULL) {
			if (free_slot < 0 && !(taken & (1u << i)))
				free_slot = i;
			continue;
		}
		if (strcmp(m->name, spec->name) == 0 && m->type == d->type &&
		    m->key_size == d->key_size &&
		    m->value_size == d->value_size &&
		    m->max_entries == d->max_entries && !(taken & (1u << i)))
			return i;
	}
	if (free_slot < 0) {
		bpf_err(err, errlen, "no map slot free for map '%s'",
		        spec->name);
		return -1;
	}
	bytes = onvm_bpf_map_bytes(d->type, d->key_size, d->value_size,
	                           d->max_entries);
	snprintf(mzname, sizeof(mzname), ONVM_BPF_MAP_MZ_FMT,
	         onvm_nflib_nf_id(b->ctx), b->map_serial++);
	mz = rte_memzone_reserve_aligned(mzname, bytes, SOCKET_ID_ANY, 0,
	                                 RTE_CACHE_LINE_SIZE);
	if (mz == NULL) {
		bpf_err(err, errlen,
		        "no hugepage memory for map '%s' (%llu bytes): %s; "
		        "reserve more hugepages or declare fewer entries",
		        spec->name, (unsigned long long)bytes,
		        rte_strerror(rte_errno));
		return -1;
	}
	memset(mz->addr, 0, bytes);
	onvm_bpf_map_init(mz->addr, spec->name, mzname, d->type, d->key_size,
	                  d->value_size, d->max_entries);
	bpf_slot_maps[free_slot] = mz->addr;
	return free_slot;
}

/* Free the maps of @p slots that @p keep does not use. */
static void
bpf_maps_free(struct bpf_nf *b, uint32_t slots, uint32_t keep)
{
	unsigned int i;

	__atomic_fetch_add(&b->dir->seq, 1, __ATOMIC_RELEASE);
	for (i = 0; i < ONVM_BPF_MAP_SLOTS; i++) {
		struct onvm_bpf_map *m = bpf_slot_maps[i];
		const struct rte_memzone *mz;

		if (!(slots & (1u << i)) || (keep & (1u << i)) || m == NULL)
			continue;
		b->dir->maps[i] = NULL;
		bpf_slot_maps[i] = NULL;
		mz = rte_memzone_lookup(m->memzone);
		if (mz != NULL)
			rte_memzone_free(mz);
	}
	__atomic_fetch_add(&b->dir->seq, 1, __ATOMIC_RELEASE);
}

/* "func(args): ", "func(args) " or "func: ", the logging function's name
 * that starts most DPDK lines, says nothing to a user. */
static const char *
bpf_log_unprefix(const char *text, const char *end)
{
	const char *p = text;

	while (p < end && (*p == '_' || (*p >= 'a' && *p <= 'z') ||
	                   (*p >= 'A' && *p <= 'Z') ||
	                   (p > text && *p >= '0' && *p <= '9')))
		p++;
	if (p == text || p == end)
		return text;
	if (*p == '(') {
		p = memchr(p, ')', (size_t)(end - p));
		if (p == NULL)
			return text;
		p++;
		if (p < end && *p == ':')
			p++;
	} else if (*p == ':') {
		p++;
	} else {
		return text;
	}
	if (p == end || *p != ' ')
		return text;
	while (p < end && *p == ' ')
		p++;
	return p;
}

/* DPDK logs why it refused a program, in one line or more, then a summary
 * of its own ("...failed, error code: 22"): the reason is every line but
 * the summaries, joined into one. */
static void
bpf_log_reason(const char *log, char *out, size_t outlen)
{
	const char *line = log;
	size_t used = 0;

	out[0] = '\0';
	while (*line != '\0' && used < outlen) {
		size_t n = strcspn(line, "\n");
		const char *text = line, *end = line + n;

		line += n + (line[n] == '\n');
		if (memmem(text, n, "failed, error code", 18) != NULL ||
		    memmem(text, n, "successfully creates", 20) != NULL)
			continue;
		text = bpf_log_unprefix(text, end);
		while (end > text && (end[-1] == ';' || end[-1] == ' ' ||
		                      end[-1] == '\r' || end[-1] == '\t'))
			end--;
		if (end == text)
			continue;
		used += (size_t)snprintf(out + used, outlen - used, "%s%.*s",
		                         used > 0 ? "; " : "",
		                         (int)(end - text), text);
	}
	if (out[0] == '\0')
		snprintf(out, outlen, "no reason given");
}

/* What to do about the validator's commonest refusals. */
static const char *
bpf_reason_hint(const char *why)
{
	if (strstr(why, "loops detected") != NULL)
		return " (every jump must go forward: unroll loops with "
		       "#pragma unroll)";
	if (strstr(why, "memory boundary violation") != NULL)
		return " (it cannot bound an access: frame offsets must be "
		       "constant or masked below the frame's data room, map "
		       "helpers take whole keys and values)";
	if (strstr(why, "invalid opcode") != NULL)
		return " (DPDK runs eBPF v2: build it with onvm-bpf build, "
		       "which passes -mcpu=v2)";
	return "";
}

/* DPDK's log, caught while librte_bpf loads: its errors only (it logs what
 * it resolved too), for the reason it gives when it refuses. In between,
 * librte_bpf keeps quiet: its interpreter would log a line per packet that
 * divides by zero (which the JIT, and it, drop without a word). */
struct bpf_log_catch {
	FILE *saved, *mem;
	char *log;
	size_t len;
	int logtype;
};

static void
bpf_catch_begin(struct bpf_log_catch *c)
{
	memset(c, 0, sizeof(*c));
	c->saved = rte_log_get_stream();
	c->logtype = rte_log_register("lib.bpf");
	c->mem = open_memstream(&c->log, &c->len);
	if (c->mem != NULL)
		rte_openlog_stream(c->mem);
	if (c->logtype >= 0)
		rte_log_set_level((uint32_t)c->logtype, RTE_LOG_ERR);
}

/* Stop catching; when @p failed, the reason DPDK gave in @p why. */
static void
bpf_catch_end(struct bpf_log_catch *c, int failed, char *why, size_t whylen)
{
	if (c->logtype >= 0)
		rte_log_set_level((uint32_t)c->logtype, RTE_LOG_CRIT);
	if (c->mem != NULL) {
		rte_openlog_stream(c->saved);
		fclose(c->mem);
	}
	if (failed)
		bpf_log_reason(c->log != NULL ? c->log : "", why, whylen);
	free(c->log);
}

/* rte_bpf_elf_load / rte_bpf_load, their log caught. */
static struct rte_bpf *
bpf_load_logged(const struct rte_bpf_prm *prm, const char *path,
                const char *section, char *why, size_t whylen)
{
	struct bpf_log_catch c;
	struct rte_bpf *bpf;

	bpf_catch_begin(&c);
	bpf = path != NULL ? rte_bpf_elf_load(prm, path, section)
	                   : rte_bpf_load(prm);
	bpf_catch_end(&c, bpf == NULL, why, whylen);
	return bpf;
}

static struct bpf_prog *
bpf_prog_new(struct rte_bpf *bpf, const struct bpf_source *src, int jit_unsafe,
             char *err, size_t errlen, char *note, size_t notelen)
{
	struct bpf_prog *p = calloc(1, sizeof(*p));
	struct rte_bpf_jit jit = {0};

	if (p == NULL) {
		rte_bpf_destroy(bpf);
		bpf_err(err, errlen, "out of memory");
		return NULL;
	}
	p->bpf = bpf;
	p->kind = src->kind;
	p->invert = src->invert;
	note[0] = '\0';
	if (!src->interp && jit_unsafe) {
		snprintf(
		    note, notelen,
		    " (interpreted: DPDK's JIT miscompiles its jset #imm8)");
	} else if (!src->interp) {
		if (rte_bpf_get_jit(bpf, &jit) == 0 && jit.func != NULL)
			p->jit = jit.func;
		else
			snprintf(
			    note, notelen,
			    " (the JIT could not compile it: interpreted)");
	}
	return p;
}

/* DPDK 22.11's rte_bpf_convert() takes the index register of an indirect
 * load from BPF_SRC(), a bit that in a load is part of its size: `ldb
 * [x + k]` and `ld [x + k]` come out indexed by A (r0), only `ldh [x + k]`
 * by X. Every indirect load of a classic filter is indexed by X, which the
 * conversion keeps in r7. Its instructions follow @p prm, in its own
 * allocation. */
static void
bpf_fix_converted(struct rte_bpf_prm *prm)
{
	struct ebpf_insn *ins = (struct ebpf_insn *)(uintptr_t)prm->ins;
	uint32_t i;

	for (i = 0; i < prm->nb_ins; i++)
		if (BPF_CLASS(ins[i].code) == BPF_LD &&
		    BPF_MODE(ins[i].code) == BPF_IND)
			ins[i].src_reg = EBPF_REG_7;
}

static struct bpf_prog *
bpf_load_filter(struct bpf_nf *b, const struct bpf_source *src, char *err,
                size_t errlen)
{
	struct bpf_program cbpf;
	struct bpf_log_catch log;
	struct rte_bpf_prm *prm;
	struct rte_bpf *bpf;
	char why[ONVM_BPF_MSG_MAX], note[80];
	struct bpf_prog *p;
	int jit_unsafe;
	pcap_t *pcap = pcap_open_dead(DLT_EN10MB, 65535);

	if (pcap == NULL) {
		bpf_err(err, errlen, "libpcap could not start");
		return NULL;
	}
	if (pcap_compile(pcap, &cbpf, src->filter, 1, PCAP_NETMASK_UNKNOWN) !=
	    0) {
		bpf_err(err, errlen, "bad filter '%s': %s (tcpdump syntax)",
		        src->filter, pcap_geterr(pcap));
		pcap_close(pcap);
		return NULL;
	}
	bpf_catch_begin(&log);
	prm = rte_bpf_convert(&cbpf);
	bpf_catch_end(&log, prm == NULL, why, sizeof(why));
	pcap_freecode(&cbpf);
	pcap_close(pcap);
	if (prm == NULL) {
		/* rte_errno says EPERM whatever the cause (its -1 negated). */
		bpf_err(err, errlen,
		        "filter '%s' could not be converted to eBPF: %s "
		        "(DPDK's converter takes no backward jumps, as "
		        "protochain makes, nor Linux's ancillary loads)",
		        src->filter, why);
		return NULL;
	}
	prm->prog_arg.buf_size = b->window_max;
	bpf_fix_converted(prm);
	jit_unsafe = bpf_jit_unsafe(prm->ins, prm->nb_ins);
	bpf = bpf_load_logged(prm, NULL, NULL, why, sizeof(why));
	rte_free(prm);
	if (bpf == NULL) {
		bpf_err(err, errlen, "filter '%s' was refused: %s%s",
		        src->filter, why, bpf_reason_hint(why));
		return NULL;
	}
	p = bpf_prog_new(bpf, src, jit_unsafe, err, errlen, note, sizeof(note));
	if (p != NULL)
		snprintf(err, errlen, "%s%s",
		         p->jit != NULL ? "JIT" : "interpreter", note);
	return p;
}

struct bpf_prog *
bpf_nf_load(struct bpf_nf *b, const struct bpf_source *src, char *err,
            size_t errlen)
{
	struct rte_bpf_xsym xsym[BPF_NF_XSYMS_MAX];
	struct rte_bpf_prm prm;
	struct bpf_object obj;
	struct rte_bpf *bpf = NULL, *fits;
	char why[ONVM_BPF_MSG_MAX], note[80];
	uint32_t slots = 0, fresh = 0, lo, hi, window;
	struct bpf_prog *p;
	struct stat st;
	unsigned int i;

	if (src->kind == ONVM_BPF_KIND_FILTER)
		return bpf_load_filter(b, src, err, errlen);
	if (stat(src->path, &st) != 0) {
		bpf_err(err, errlen, "cannot read program %s: %s", src->path,
		        strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		bpf_err(err, errlen,
		        "program %s is not a file: give the .o "
		        "that onvm-bpf build wrote",
		        src->path);
		return NULL;
	}
	if (bpf_read_object(b, src->path, src->section, &obj, err, errlen) < 0)
		return NULL;
	/* The program's maps, then the command line's that it lacks. */
	for (i = 0; i < obj.nmaps + b->nspecs; i++) {
		const struct bpf_map_spec *spec =
		    i < obj.nmaps ? &obj.maps[i] : &b->specs[i - obj.nmaps];
		const struct bpf_map_spec *declared = NULL;
		unsigned int j;
		int slot;

		for (j = 0; j < obj.nmaps && i >= obj.nmaps; j++)
			if (strcmp(obj.maps[j].name, spec->name) == 0)
				declared = &obj.maps[j];
		if (declared != NULL && memcmp(&declared->def, &spec->def,
		                               sizeof(spec->def)) != 0) {
			const struct onvm_bpf_map_def *d = &declared->def;

			bpf_err(
			    err, errlen,
			    "%s declares map '%s' as %s with %u-byte keys, "
			    "%u-byte values and %u entries, unlike its --map: "
			    "drop that --map or make it agree",
			    src->path, spec->name,
			    d->type < RTE_DIM(bpf_map_type_names)
			        ? bpf_map_type_names[d->type]
			        : "?",
			    d->key_size, d->value_size, d->max_entries);
			goto fail;
		}
		if (declared != NULL)
			continue;
		slot = bpf_map_slot(b, spec, slots, err, errlen);
		if (slot < 0)
			goto fail;
		if (b->dir->maps[slot] == NULL)
			fresh |= 1u << slot;
		slots |= 1u << slot;
	}
	memset(&prm, 0, sizeof(prm));
	prm.xsym = xsym;
	prm.nb_xsym = bpf_nf_xsyms(xsym, slots);
	prm.prog_arg.type = RTE_BPF_ARG_PTR;

	/* The smallest window the validator accepts: first the largest, to
	 * learn whether the program loads at all, then halving. */
	prm.prog_arg.size = b->window_max;
	bpf = bpf_load_logged(&prm, src->path, obj.section, why, sizeof(why));
	if (bpf == NULL) {
		bpf_err(err, errlen, "%s was refused: %s%s", src->path, why,
		        bpf_reason_hint(why));
		goto fail;
	}
	window = b->window_max;
	for (hi = b->window_max, lo = BPF_WINDOW_MIN; lo < hi; lo *= 2) {
		prm.prog_arg.size = lo;
		fits = bpf_load_logged(&prm, src->path, obj.section, why,
		                       sizeof(why));
		if (fits != NULL) {
			rte_bpf_destroy(bpf);
			bpf = fits;
			window = lo;
			break;
		}
	}
	p = bpf_prog_new(bpf, src, obj.jit_unsafe, err, errlen, note,
	                 sizeof(note));
	if (p == NULL)
		goto fail;
	p->window = window;
	p->uses_md = obj.uses_md;
	p->maps = slots;
	snprintf(p->section, sizeof(p->section), "%s", obj.section);
	snprintf(err, errlen,
	         "loaded %s section %s, %s, window %u bytes, "
	         "%u map(s)%s",
	         src->path, obj.section, p->jit != NULL ? "JIT" : "interpreter",
	         window, (unsigned int)__builtin_popcount(slots), note);
	return p;
fail:
	/* Maps made for this program alone go again. */
	bpf_maps_free(b, fresh, 0);
	return NULL;
}

void
bpf_nf_publish(struct bpf_nf *b, struct bpf_prog *p,
               const struct bpf_source *src)
{
	struct onvm_bpf_dir *d = b->dir;
	unsigned int i;

	__atomic_fetch_add(&d->seq, 1, __ATOMIC_RELEASE);
	d->kind = src->kind;
	d->jit = p->jit != NULL;
	d->window = p->window;
	d->invert = src->invert;
	snprintf(d->path, sizeof(d->path), "%s", src->path);
	snprintf(d->section, sizeof(d->section), "%s", p->section);
	snprintf(d->filter, sizeof(d->filter), "%s", src->filter);
	d->nmaps = 0;
	for (i = 0; i < ONVM_BPF_MAP_SLOTS; i++) {
		d->maps[i] = bpf_slot_maps[i];
		d->nmaps += bpf_slot_maps[i] != NULL;
	}
	d->loads++;
	__atomic_fetch_add(&d->seq, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&b->next, p, __ATOMIC_RELEASE);
}

void
bpf_nf_destroy(struct bpf_nf *b, struct bpf_prog *p)
{
	const struct bpf_prog *cur =
	    __atomic_load_n(&b->next, __ATOMIC_ACQUIRE);

	bpf_maps_free(b, p->maps, cur != NULL ? cur->maps : 0);
	rte_bpf_destroy(p->bpf);
	free(p);
}

void
bpf_nf_dir_free(struct bpf_nf *b)
{
	if (b->dir == NULL)
		return;
	bpf_maps_free(b, UINT32_MAX, 0);
	rte_memzone_free(b->dir_mz);
	b->dir = NULL;
	b->dir_mz = NULL;
}
