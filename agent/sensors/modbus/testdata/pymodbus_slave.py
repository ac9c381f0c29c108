"""A pymodbus serial RTU server for the modbus driver's interop test.

Usage: pymodbus_slave.py PORT BAUD SLAVE HOLDING INPUT

HOLDING and INPUT are register tables, "ADDRESS:WORD,WORD,..." (decimal),
or "-" for none. Addresses are the wire's, 0-based. The server prints
"ready" on stdout once its serial port is open, then serves until killed.
"""

import asyncio
import sys

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.server import StartAsyncSerialServer


def block(spec):
    """Return a data block of spec, "ADDRESS:WORD,..." or "-"."""
    if spec == "-":
        return ModbusSequentialDataBlock(0, [])
    address, words = spec.split(":")
    return ModbusSequentialDataBlock(int(address), [int(w) for w in words.split(",")])


async def main(port, baud, slave, holding, inputs):
    """Serve the tables on port until killed."""
    store = ModbusSlaveContext(hr=block(holding), ir=block(inputs), zero_mode=True)
    context = ModbusServerContext(slaves={slave: store}, single=False)
    server = await StartAsyncSerialServer(
        context=context,
        framer=ModbusRtuFramer,
        port=port,
        baudrate=baud,
        defer_start=True,
    )
    await server.start()
    if server.transport is None:
        sys.exit(f"cannot open {port}")
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]))
