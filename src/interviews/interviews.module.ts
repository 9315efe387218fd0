import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Interview } from './interview.entity.js';
import { InterviewsHealthIndicator } from './interviews.health.js';
import { InterviewsService } from './interviews.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Interview])],
  providers: [InterviewsService, InterviewsHealthIndicator],
  exports: [InterviewsService, InterviewsHealthIndicator],
})
export class InterviewsModule {}
