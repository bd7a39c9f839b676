import { ApiProperty } from '@nestjs/swagger';
import { ANY_JSON } from '../../common/http/problem.dto';

export class ConfigEntryResponse {
  @ApiProperty({ example: 'feature.flags' })
  key: string;

  @ApiProperty({ description: 'Any JSON value; "********" for a secret in listings', ...ANY_JSON })
  value: unknown;

  @ApiProperty()
  secret: boolean;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt: Date;
}
