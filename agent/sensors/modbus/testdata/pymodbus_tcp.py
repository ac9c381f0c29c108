"""A pymodbus TCP server for the modbus driver's interop test.

Usage: pymodbus_tcp.py FRAMING UNIT HOLDING INPUT

FRAMING is "mbap" (Modbus TCP) or "rtu" (RTU frames over TCP). HOLDING and
INPUT are register tables, "ADDRESS:WORD,WORD,..." (decimal), or "-" for
none. The server listens on a free loopback port, prints "ready PORT" on
stdout once it does, then serves until killed.
"""

import asyncio
import sys

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.server import StartAsyncTcpServer


def block(spec):
    """Return a data block of spec, "ADDRESS:WORD,..." or "-"."""
    if spec == "-":
        return ModbusSequentialDataBlock(0, [0])  # pymodbus takes no empty block
    address, words = spec.split(":")
    return ModbusSequentialDataBlock(int(address), [int(w) for w in words.split(",")])


async def main(framing, unit, holding, inputs):
    """Serve the tables until killed."""
    store = ModbusSlaveContext(hr=block(holding), ir=block(inputs), zero_mode=True)
    context = ModbusServerContext(slaves={unit: store}, single=False)
    framer = {"mbap": ModbusSocketFramer, "rtu": ModbusRtuFramer}[framing]
    server = await StartAsyncTcpServer(
        context=context, framer=framer, address=("127.0.0.1", 0), defer_start=True
    )
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    print("ready", server.server.sockets[0].getsockname()[1], flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
