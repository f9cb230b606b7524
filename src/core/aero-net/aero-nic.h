/* aero-nic.h — NIC device models for emulators that embed aero-net.
 *
 * A NIC faces the guest through registers, DMA and interrupts, and faces
 * the network through frames: it is a frame sink (frames arriving from the
 * network, written into guest receive buffers) and a frame source (frames
 * the guest transmitted). The emulator supplies memory access and an
 * interrupt line through AeroNicHostOps. A NIC plugin's component is an
 * AeroNicFactory. */
#pragma once

#include <aero-net/aero-component.h>
#include <aero-net/aero-frame.h>

G_BEGIN_DECLS

/**
 * AeroNicHostOps:
 * @dma_read: copy @len bytes of guest memory at @addr into @buf; %FALSE if
 *   the range is invalid.
 * @dma_write: copy @len bytes from @buf to guest memory at @addr.
 * @set_irq: raise (@level %TRUE) or lower the interrupt line, or signal a
 *   message-signalled interrupt @vector when the device uses MSI-X.
 *
 * What the emulator provides to a NIC model.
 */
typedef struct {
  gboolean (*dma_read) (gpointer opaque, guint64 addr, void *buf, gsize len);
  gboolean (*dma_write) (gpointer opaque, guint64 addr, const void *buf, gsize len);
  void (*set_irq) (gpointer opaque, guint vector, gboolean level);
  gpointer reserved[4];
} AeroNicHostOps;

/**
 * AeroPciIdentity:
 * @vendor_id: PCI vendor id
 * @device_id: PCI device id
 * @subsystem_vendor_id: PCI subsystem vendor id
 * @subsystem_id: PCI subsystem id
 * @class_code: 24-bit class code
 * @revision: revision id
 * @bar_size: sizes of BARs 0–5 in bytes (0: unused)
 * @bar_is_io: whether each BAR is an I/O port BAR
 *
 * How the device presents itself on PCI.
 */
typedef struct {
  guint16 vendor_id;
  guint16 device_id;
  guint16 subsystem_vendor_id;
  guint16 subsystem_id;
  guint32 class_code;
  guint8 revision;
  guint64 bar_size[6];
  gboolean bar_is_io[6];
} AeroPciIdentity;

#define AERO_TYPE_NIC (aero_nic_get_type ())
G_DECLARE_INTERFACE (AeroNic, aero_nic, AERO, NIC, GObject)

/**
 * AeroNicInterface:
 * @get_identity: fill in the PCI identity.
 * @set_host: give the model the emulator's operations.
 * @reset: return to power-on state.
 * @read: read @size (1, 2, 4 or 8) bytes at @offset of BAR @bar.
 * @write: write @size bytes of @value at @offset of BAR @bar.
 * @set_mac: set the permanent MAC address.
 *
 * A NIC must also implement #AeroFrameSink and #AeroFrameSource.
 */
struct _AeroNicInterface
{
  GTypeInterface g_iface;

  void (*get_identity) (AeroNic *self, AeroPciIdentity *out);
  void (*set_host) (AeroNic *self, const AeroNicHostOps *ops, gpointer opaque);
  void (*reset) (AeroNic *self);
  guint64 (*read) (AeroNic *self, guint bar, guint64 offset, guint size);
  void (*write) (AeroNic *self, guint bar, guint64 offset, guint size, guint64 value);
  void (*set_mac) (AeroNic *self, const guint8 mac[6]);

  gpointer padding[8];
};

/**
 * aero_nic_get_identity:
 * @self: a NIC
 * @out: (out caller-allocates): the identity
 *
 * Fills in the PCI identity.
 */
void aero_nic_get_identity (AeroNic *self, AeroPciIdentity *out);

/**
 * aero_nic_set_host:
 * @self: a NIC
 * @ops: (transfer none): emulator operations, kept by pointer
 * @opaque: passed to @ops
 *
 * Connects the model to the emulator.
 */
void aero_nic_set_host (AeroNic *self, const AeroNicHostOps *ops, gpointer opaque);

/**
 * aero_nic_reset:
 * @self: a NIC
 *
 * Resets the device.
 */
void aero_nic_reset (AeroNic *self);

/**
 * aero_nic_read:
 * @self: a NIC
 * @bar: BAR index
 * @offset: offset in the BAR
 * @size: access size in bytes
 *
 * Returns: the value read (all ones for an invalid access).
 */
guint64 aero_nic_read (AeroNic *self, guint bar, guint64 offset, guint size);

/**
 * aero_nic_write:
 * @self: a NIC
 * @bar: BAR index
 * @offset: offset in the BAR
 * @size: access size in bytes
 * @value: value to write
 *
 * Writes a register (invalid accesses are ignored and counted by the model).
 */
void aero_nic_write (AeroNic *self, guint bar, guint64 offset, guint size, guint64 value);

/**
 * aero_nic_set_mac:
 * @self: a NIC
 * @mac: six bytes
 *
 * Sets the permanent MAC address.
 */
void aero_nic_set_mac (AeroNic *self, const guint8 mac[6]);

#define AERO_TYPE_NIC_FACTORY (aero_nic_factory_get_type ())
G_DECLARE_INTERFACE (AeroNicFactory, aero_nic_factory, AERO, NIC_FACTORY, AeroComponent)

/**
 * AeroNicFactoryInterface:
 * @create_nic: make a device instance.
 */
struct _AeroNicFactoryInterface
{
  GTypeInterface g_iface;

  AeroNic *(*create_nic) (AeroNicFactory *self, GError **error);

  gpointer padding[8];
};

/**
 * aero_nic_factory_create_nic:
 * @self: a NIC factory
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a new device, or %NULL with @error set.
 */
AeroNic *aero_nic_factory_create_nic (AeroNicFactory *self, GError **error);

G_END_DECLS
