#!/usr/bin/env python3
# gntdev-test-vmap.py DIR -- edits Linux 6.1's drivers/xen/gntdev sources in
# DIR for the arm64 Xen-in-QEMU test (build-modules.sh).
#
# 1. dma-buf without XEN_GRANT_DMA_ALLOC: gntdev_priv::dma_dev (used by
#    gntdev-dmabuf.c) and its set-up in gntdev_open() are compiled only under
#    CONFIG_XEN_GRANT_DMA_ALLOC, which Debian's kernels lack (and which
#    XEN_GNTDEV_DMABUF depends on in Kconfig). Compile them for
#    CONFIG_XEN_GNTDEV_DMABUF too; the DMA-allocated buffer paths stay out,
#    so only flags=0 exports work -- all vdispld asks for.
# 2. TEST ONLY (--vmap): .vmap/.vunmap/.mmap in the exporter's dma_buf_ops.
#    Upstream gntdev (6.1 up to current mainline) exports grant mappings with
#    attach/map_dma_buf/release only: a display controller that scans out by
#    DMA can use them, but vkms composes with the CPU (dma_buf_vmap) and
#    refuses to scan out a buffer it cannot map. The test uses vkms -- it has
#    a CRC of what it scans out -- so it needs the CPU mapping. On an
#    auto-translated Dom0 (Arm, PVH) the exported pages are the grant
#    mappings themselves, so vmap() of them reaches the guest's memory: the
#    CRC is still of the guest's own pages, nothing is copied. The module
#    parameter test_vmap (/sys/module/xen_gntdev/parameters/test_vmap) set
#    to N makes the exporter behave as upstream's again, at run time.
import sys

d = sys.argv[1]
vmap = '--vmap' in sys.argv[2:]


def edit(path, old, new):
    with open(path) as f:
        c = f.read()
    if old not in c:
        sys.exit(f"{path}: anchor not found: {old!r}")
    with open(path, 'w') as f:
        f.write(c.replace(old, new, 1))


both = '#if defined(CONFIG_XEN_GRANT_DMA_ALLOC) || defined(CONFIG_XEN_GNTDEV_DMABUF)\n'
edit(d + '/gntdev-common.h',
     '#ifdef CONFIG_XEN_GRANT_DMA_ALLOC\n\t/* Device for which DMA memory is allocated. */',
     both + '\t/* Device for which DMA memory is allocated. */')
edit(d + '/gntdev.c',
     '#ifdef CONFIG_XEN_GRANT_DMA_ALLOC\n\tpriv->dma_dev = gntdev_miscdev.this_device;',
     both + '\tpriv->dma_dev = gntdev_miscdev.this_device;')

if vmap:
    edit(d + '/gntdev-dmabuf.c', 'static const struct dma_buf_ops dmabuf_exp_ops =  {\n', r'''
/* TEST ONLY (vdispld tests/xen-qemu-arm64): CPU access to exported grants. */
#include <linux/vmalloc.h>
#include <linux/iosys-map.h>

/* N: behave as upstream (no CPU access), at run time */
static bool test_vmap = true;
module_param(test_vmap, bool, 0644);

static int dmabuf_exp_ops_vmap(struct dma_buf *dma_buf, struct iosys_map *map)
{
	struct gntdev_dmabuf *gntdev_dmabuf = dma_buf->priv;
	void *vaddr;

	if (!READ_ONCE(test_vmap))
		return -EINVAL; /* what dma_buf_vmap() answers without the op */
	vaddr = vmap(gntdev_dmabuf->pages, gntdev_dmabuf->nr_pages, VM_MAP, PAGE_KERNEL);
	if (!vaddr)
		return -ENOMEM;
	iosys_map_set_vaddr(map, vaddr);
	return 0;
}

static void dmabuf_exp_ops_vunmap(struct dma_buf *dma_buf, struct iosys_map *map)
{
	vunmap(map->vaddr);
}

static int dmabuf_exp_ops_mmap(struct dma_buf *dma_buf, struct vm_area_struct *vma)
{
	struct gntdev_dmabuf *gntdev_dmabuf = dma_buf->priv;

	if (!READ_ONCE(test_vmap))
		return -EINVAL;
	return vm_map_pages(vma, gntdev_dmabuf->pages, gntdev_dmabuf->nr_pages);
}

static const struct dma_buf_ops dmabuf_exp_ops =  {
	.vmap = dmabuf_exp_ops_vmap,
	.vunmap = dmabuf_exp_ops_vunmap,
	.mmap = dmabuf_exp_ops_mmap,
''')
print("gntdev sources edited" + (" (+ test-only vmap/mmap)" if vmap else ""))
